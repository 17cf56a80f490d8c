# Peer detector: R's `surveillance` package on the monthly series our trend methods judge.
#
#   Rscript pipelines/peer_surveillance.R IN.csv OUT.csv METHOD [key=value ...]
#
# IN.csv: series_id, month (YYYY-MM-01), observed (count), expected (in-control mean), one row per
# covered month of each series (pipelines/peer.py leaves out the months the data do not cover).
# OUT.csv: series_id, alarm_month, observed, expected, statistic, threshold: the first alarm of
# each series that has one, sorted by series_id. Written only when every series ran; otherwise
# the failing series and R's message go to stderr, one line each, and the exit status is 3.
#
# METHOD glrpois (Hoehle & Paul 2008, "Count data regression charts for the monitoring of
# surveillance time series", CSDA 52(9); surveillance help page ?algo.glrnb, 1.20.3):
#   glrpois(sts, control = list(range = 1:n, mu0 = expected, theta = log(rate_ratio),
#           c.ARL = c.ARL, dir = "inc", ret = "value"))
#   With `theta` given, the package runs the recursive likelihood-ratio CUSUM of an intercept
#   change (C function lr_cusum):
#     LR_n = max(0, LR_{n-1} + theta * x_n - (exp(theta) - 1) * mu0_n),  LR_0 = 0,
#   and alarms at the first n with LR_n > c.ARL; the `upperbound` slot holds LR_n (ret = "value").
#   Parameters: theta (log of the rate ratio to detect; default log(2): twice the risk file's
#   expected rate), c.ARL. A likelihood-ratio CUSUM with threshold c has an in-control average
#   run length of at least exp(c) months (Lorden 1971; Wald's inequality on each excursion), so
#   c.ARL = log(600) = 6.397 targets at most one false alarm per 600 series-months, i.e. at most
#   2 per 100 null series-years: the target of our own CUSUM (models/trends.py).
#   The covered months are charted in order: a month without data is left out, not read as zero.
#
# METHOD farrington (Noufaily et al. 2012, the improved Farrington method; ?farringtonFlexible):
#   farringtonFlexible(sts, control = list(range, b, w, alpha, reweight = TRUE,
#           weightsThreshold = 2.58, pThresholdTrend = 1, thresholdMethod = "nbPlugin",
#           populationOffset = TRUE))
#   The series is laid on its full monthly calendar (frequency 12) with NA for months without
#   data, and `population` = expected, so the baseline is the series' own past ratio of observed
#   to expected in the same months of the `b` years before (+/- `w` months). A month is judged
#   once b years and w months of calendar lie before it. Parameters: alpha (one-sided, default
#   0.01), b (default 2), w (default 1). statistic = observed, threshold = the upper bound.

suppressPackageStartupMessages(library(surveillance))

fail <- function(...) {
  cat("peer_surveillance.R: ", ..., "\n", sep = "", file = stderr())
  quit(save = "no", status = 2)
}

parse_params <- function(pairs) {
  params <- list()
  for (pair in pairs) {
    parts <- strsplit(pair, "=", fixed = TRUE)[[1]]
    if (length(parts) != 2) fail("parameter '", pair, "' is not key=value")
    value <- suppressWarnings(as.numeric(parts[2]))
    if (is.na(value)) fail("parameter '", parts[1], "' is not a number: '", parts[2], "'")
    params[[parts[1]]] <- value
  }
  params
}

param <- function(params, name, default) {
  if (is.null(params[[name]])) default else params[[name]]
}

month_index <- function(dates) {
  as.integer(format(dates, "%Y")) * 12L + as.integer(format(dates, "%m")) - 1L
}

first_alarm_glrpois <- function(rows, params) {
  n <- nrow(rows)
  theta <- param(params, "theta", log(2))
  c_arl <- param(params, "c.ARL", log(600))
  start <- as.integer(c(format(rows$month[1], "%Y"), format(rows$month[1], "%m")))
  chart <- sts(observed = matrix(rows$observed), start = start, frequency = 12)
  result <- glrpois(chart, control = list(
    range = seq_len(n), mu0 = rows$expected, theta = theta, c.ARL = c_arl,
    Mtilde = 1, M = -1, change = "intercept", dir = "inc", ret = "value"
  ))
  fired <- which(alarms(result)[, 1] == 1)
  if (length(fired) == 0) return(NULL)
  i <- fired[1]
  data.frame(
    alarm_month = format(rows$month[i], "%Y-%m-%d"), observed = rows$observed[i],
    expected = rows$expected[i], statistic = upperbound(result)[i, 1], threshold = c_arl
  )
}

first_alarm_farrington <- function(rows, params) {
  b <- as.integer(param(params, "b", 2))
  w <- as.integer(param(params, "w", 1))
  alpha <- param(params, "alpha", 0.01)
  index <- month_index(rows$month)
  calendar <- seq(min(index), max(index))
  position <- match(index, calendar)
  observed <- rep(NA_real_, length(calendar))
  expected <- rep(NA_real_, length(calendar))
  observed[position] <- rows$observed
  expected[position] <- rows$expected
  # the GLM's offset is log(expected): months without data or expectation are not reference
  observed[!is.na(expected) & expected <= 0] <- NA_real_
  expected[is.na(expected) | expected <= 0] <- 1
  judged <- position[position > b * 12 + w & !is.na(observed[position])]
  if (length(judged) == 0) return(NULL)
  start <- c(min(index) %/% 12, min(index) %% 12 + 1)
  chart <- sts(
    observed = matrix(observed), start = start, frequency = 12,
    population = matrix(expected)
  )
  result <- farringtonFlexible(chart, control = list(
    range = judged, b = b, w = w, alpha = alpha, reweight = TRUE, weightsThreshold = 2.58,
    pThresholdTrend = 1, thresholdMethod = "nbPlugin", populationOffset = TRUE,
    glmWarnings = FALSE, verbose = FALSE
  ))
  fired <- which(!is.na(alarms(result)[, 1]) & alarms(result)[, 1] == 1)
  if (length(fired) == 0) return(NULL)
  i <- judged[fired[1]]
  row <- match(i, position)
  data.frame(
    alarm_month = format(rows$month[row], "%Y-%m-%d"), observed = rows$observed[row],
    expected = rows$expected[row], statistic = rows$observed[row],
    threshold = upperbound(result)[fired[1], 1]
  )
}

main <- function() {
  args <- commandArgs(trailingOnly = TRUE)
  if (length(args) < 3) fail("usage: peer_surveillance.R IN.csv OUT.csv METHOD [key=value ...]")
  method <- args[3]
  first_alarm <- switch(method,
    glrpois = first_alarm_glrpois,
    farrington = first_alarm_farrington,
    fail("unknown method '", method, "'; expected glrpois or farrington")
  )
  params <- parse_params(args[-(1:3)])
  series <- read.csv(args[1], colClasses = c(
    series_id = "character", month = "character", observed = "numeric", expected = "numeric"
  ))
  missing <- setdiff(c("series_id", "month", "observed", "expected"), names(series))
  if (length(missing) > 0) fail(args[1], " lacks the column(s) ", paste(missing, collapse = ", "))
  series$month <- as.Date(series$month)
  found <- list()
  errors <- character()
  for (id in sort(unique(series$series_id), method = "radix")) {
    rows <- series[series$series_id == id, ]
    rows <- rows[order(rows$month), ]
    alarm <- tryCatch(
      first_alarm(rows, params),
      error = function(e) {
        errors <<- c(errors, paste0("series ", id, ": ", conditionMessage(e)))
        NULL
      }
    )
    if (!is.null(alarm)) found[[length(found) + 1]] <- data.frame(series_id = id, alarm)
  }
  if (length(errors) > 0) {
    cat(paste0(errors, "\n"), sep = "", file = stderr())
    quit(save = "no", status = 3)
  }
  columns <- c("series_id", "alarm_month", "observed", "expected", "statistic", "threshold")
  out <- if (length(found) > 0) do.call(rbind, found) else
    setNames(data.frame(matrix(nrow = 0, ncol = length(columns))), columns)
  for (column in c("observed", "expected", "statistic", "threshold")) {
    out[[column]] <- sprintf("%.12g", as.numeric(out[[column]]))
  }
  write.csv(out[, columns], args[2], row.names = FALSE)
}

main()
