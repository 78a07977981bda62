# Reference values for calibrate()'s options, from R `survey` on the `api` data it ships
# (the examples of R's ?calibrate, plus per-unit bounds and heteroscedastic variances).
#
# Run from the repository root:   Rscript tests/estimators/weighting/reference/calibration_options_api.R
# Reads the inputs written by weighting_api.R (weighting_apiclus1.csv, weighting_apistrat.csv), writes
# the columns of apiclus2 it uses to calibration_options_apiclus2.csv, and
# writes tests/estimators/weighting/reference/calibration_options_api.json: one entry per case with
# R's call, its options, the weights in row order and the estimate and SE of a mean and a total on
# the calibrated design. CI never runs R.
suppressPackageStartupMessages({
  library(survey)
  library(jsonlite)
})
data(api)

out_dir <- "tests/estimators/weighting/reference"
clus <- read.csv(file.path(out_dir, "weighting_apiclus1.csv"), stringsAsFactors = TRUE)
strat <- read.csv(file.path(out_dir, "weighting_apistrat.csv"), stringsAsFactors = TRUE)

dc <- svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = clus)
ds <- svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = strat)

# Population totals of R's ?calibrate example; the same constraints as stype = E/H/M counts.
pop_stype <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018)
pop_api99 <- c(pop_stype, api99 = 3914069)
sch_yes <- sum(apipop$sch.wide == "Yes")
pop_strat <- c(`(Intercept)` = nrow(apipop), sch.wideYes = sch_yes, api99 = sum(apipop$api99))
totals_stype <- list(stype = list(E = 6194 - 755 - 1018, H = 755, M = 1018))
totals_api99 <- c(totals_stype, list(api99 = 3914069))
totals_strat <- list(sch.wide = list(No = nrow(apipop) - sch_yes, Yes = sch_yes),
                     api99 = sum(apipop$api99))

ctl <- list(maxit = 500, epsilon = 1e-13)

stat <- function(design) {
  m <- svymean(~api00, design)
  t <- svytotal(~api00, design)
  list(mean_api00 = unname(coef(m)), mean_api00_se = as.numeric(SE(m)),
       total_api00 = unname(coef(t)), total_api00_se = as.numeric(SE(t)))
}

cases <- list()
add <- function(name, data, design, r_call, options, totals, fit) {
  case <- list(name = name, data = data, design = design, r_call = r_call, options = options,
               totals = totals)
  if (inherits(fit, "svyrep.design")) {
    case$weights <- unname(weights(fit, "sampling"))
    # replicate weights after calibration, one array per replicate
    rw <- weights(fit, "analysis")
    case$replicate_weights <- lapply(seq_len(ncol(rw)), function(j) unname(rw[, j]))
  } else {
    case$weights <- unname(weights(fit))
  }
  cases[[length(cases) + 1]] <<- c(case, stat(fit))
}

# -- aggregate.stage: g constant within first-stage clusters (?calibrate example) ---------------------
f <- calibrate(dc, ~stype, pop_stype, aggregate.stage = 1)
add("aggregate_linear_stype", "apiclus1", "dc", "calibrate(dc, ~stype, pop, aggregate.stage = 1)",
    list(method = "linear", aggregate = "dnum"), totals_stype, f)
f <- calibrate(dc, ~stype + api99, pop_api99, aggregate.stage = 1)
add("aggregate_linear_stype_api99", "apiclus1", "dc",
    "calibrate(dc, ~stype + api99, pop, aggregate.stage = 1)",
    list(method = "linear", aggregate = "dnum"), totals_api99, f)
f <- calibrate(dc, ~stype + api99, pop_api99, aggregate.stage = 1, calfun = "raking",
               maxit = ctl$maxit, epsilon = ctl$epsilon)
add("aggregate_raking_stype_api99", "apiclus1", "dc",
    "calibrate(dc, ~stype + api99, pop, aggregate.stage = 1, calfun = 'raking')",
    list(method = "raking", aggregate = "dnum"), totals_api99, f)

# -- per-unit bounds --------------------------------------------------------------------------------
n <- nrow(clus)
bnds <- list(lower = rep(-Inf, n), upper = c(40, rep(Inf, n - 1)))
f <- calibrate(dc, ~stype + api99, pop_api99, bounds = bnds, bounds.const = TRUE,
               maxit = ctl$maxit, epsilon = ctl$epsilon)
add("unit_bounds_const_linear", "apiclus1", "dc",
    "calibrate(dc, ~stype + api99, pop, bounds = list(lower = -Inf, upper = c(40, Inf, ...)), bounds.const = TRUE)",
    list(method = "linear", lower = bnds$lower, upper = bnds$upper, bounds_on = "weights"),
    totals_api99, f)
lower <- ifelse(clus$stype == "E", 0.5, 0.7)
upper <- ifelse(clus$sch.wide == "Yes", 1.6, 1.75)
f <- calibrate(dc, ~stype + api99, pop_api99, bounds = list(lower = lower, upper = upper),
               maxit = ctl$maxit, epsilon = ctl$epsilon)
add("unit_bounds_linear", "apiclus1", "dc",
    "calibrate(dc, ~stype + api99, pop, bounds = list(lower = ifelse(stype == 'E', 0.5, 0.7), upper = ifelse(sch.wide == 'Yes', 1.6, 1.75)))",
    list(method = "linear", lower = lower, upper = upper, bounds_on = "g"), totals_api99, f)
f <- calibrate(dc, ~stype + api99, pop_api99, bounds = list(lower = lower, upper = upper),
               calfun = "logit", maxit = ctl$maxit, epsilon = ctl$epsilon)
add("unit_bounds_logit", "apiclus1", "dc",
    "calibrate(dc, ~stype + api99, pop, bounds = list(lower = ..., upper = ...), calfun = 'logit')",
    list(method = "logit", lower = lower, upper = upper, bounds_on = "g"), totals_api99, f)
wl <- ifelse(strat$stype == "E", 30, 10)
wu <- ifelse(strat$stype == "H", 60, 80)
f <- calibrate(ds, ~sch.wide + api99, pop_strat, bounds = list(lower = wl, upper = wu),
               bounds.const = TRUE, calfun = "raking", maxit = ctl$maxit, epsilon = ctl$epsilon)
add("unit_bounds_const_raking_strat", "apistrat", "ds",
    "calibrate(ds, ~sch.wide + api99, pop, bounds = list(lower = ..., upper = ...), bounds.const = TRUE, calfun = 'raking')",
    list(method = "raking", lower = wl, upper = wu, bounds_on = "weights"), totals_strat, f)

# -- variance: heteroscedastic calibration model ------------------------------------------------------
f <- calibrate(dc, ~stype + api99, pop_api99, variance = clus$api99)
add("variance_linear", "apiclus1", "dc", "calibrate(dc, ~stype + api99, pop, variance = api99)",
    list(method = "linear", variance = "api99"), totals_api99, f)
f <- calibrate(dc, ~stype + api99, pop_api99, variance = clus$api99, calfun = "raking",
               maxit = ctl$maxit, epsilon = ctl$epsilon)
add("variance_raking", "apiclus1", "dc",
    "calibrate(dc, ~stype + api99, pop, variance = api99, calfun = 'raking')",
    list(method = "raking", variance = "api99"), totals_api99, f)
f <- calibrate(ds, ~sch.wide + api99, pop_strat, variance = strat$api99, bounds = c(0.5, 2),
               maxit = ctl$maxit, epsilon = ctl$epsilon)
add("variance_bounded_linear_strat", "apistrat", "ds",
    "calibrate(ds, ~sch.wide + api99, pop, variance = api99, bounds = c(0.5, 2))",
    list(method = "linear", variance = "api99", lower = 0.5, upper = 2), totals_strat, f)

# -- trim (?calibrate example) -------------------------------------------------------------------------
f <- suppressMessages(calibrate(dc, ~stype + api99, pop_api99, bounds = c(0.5, 2),
                                trim = c(2/3, 3/2), maxit = ctl$maxit, epsilon = ctl$epsilon))
add("trim_linear", "apiclus1", "dc",
    "calibrate(dc, ~stype + api99, pop, bounds = c(0.5, 2), trim = c(2/3, 3/2))",
    list(method = "linear", lower = 0.5, upper = 2, trim = c(2/3, 3/2)), totals_api99, f)
f <- suppressMessages(calibrate(dc, ~stype + api99, pop_api99, calfun = "raking",
                                trim = c(0.8, 1.25), maxit = ctl$maxit, epsilon = ctl$epsilon))
add("trim_raking", "apiclus1", "dc",
    "calibrate(dc, ~stype + api99, pop, calfun = 'raking', trim = c(0.8, 1.25))",
    list(method = "raking", trim = c(0.8, 1.25)), totals_api99, f)

# -- replicate weights: every option re-run on each JK1 replicate (?calibrate, svyrep method) ---------
rc <- as.svrepdesign(dc)
f <- calibrate(rc, ~stype, pop_stype, aggregate.index = ~dnum)
add("replicate_aggregate_linear_stype", "apiclus1", "rc",
    "calibrate(as.svrepdesign(dc), ~stype, pop, aggregate.index = ~dnum)",
    list(method = "linear", aggregate = "dnum", replicates = "jk1"), totals_stype, f)
f <- calibrate(rc, ~stype + api99, pop_api99, aggregate.index = ~dnum, calfun = "raking",
               maxit = ctl$maxit, epsilon = ctl$epsilon)
add("replicate_aggregate_raking_stype_api99", "apiclus1", "rc",
    "calibrate(as.svrepdesign(dc), ~stype + api99, pop, aggregate.index = ~dnum, calfun = 'raking')",
    list(method = "raking", aggregate = "dnum", replicates = "jk1"), totals_api99, f)
# (survey 4.1.1's svyrep method accepts bounds.const but does not use it, so bounds per row are
# given here as bounds on g)
# bounds on the rows whose unbounded g is extreme (the others are free)
g0 <- weights(calibrate(dc, ~stype + api99, pop_api99)) / weights(dc)
rep_lower <- ifelse(g0 < 0.5, 0.5, -Inf)
rep_upper <- ifelse(g0 > 1.75, 1.75, Inf)
f <- calibrate(rc, ~stype + api99, pop_api99, bounds = list(lower = rep_lower, upper = rep_upper),
               maxit = ctl$maxit, epsilon = ctl$epsilon)
add("replicate_unit_bounds_linear", "apiclus1", "rc",
    "calibrate(as.svrepdesign(dc), ~stype + api99, pop, bounds = list(lower = ifelse(g0 < 0.5, 0.5, -Inf), upper = ifelse(g0 > 1.75, 1.75, Inf)))",
    list(method = "linear", lower = rep_lower, upper = rep_upper, bounds_on = "g",
         replicates = "jk1"),
    totals_api99, f)
f <- calibrate(rc, ~stype + api99, pop_api99, variance = clus$api99, calfun = "raking",
               maxit = ctl$maxit, epsilon = ctl$epsilon)
add("replicate_variance_raking", "apiclus1", "rc",
    "calibrate(as.svrepdesign(dc), ~stype + api99, pop, variance = api99, calfun = 'raking')",
    list(method = "raking", variance = "api99", replicates = "jk1"), totals_api99, f)
f <- calibrate(rc, ~stype + api99, pop_api99, variance = clus$api99)
add("replicate_variance_linear", "apiclus1", "rc",
    "calibrate(as.svrepdesign(dc), ~stype + api99, pop, variance = api99)",
    list(method = "linear", variance = "api99", replicates = "jk1"), totals_api99, f)
f <- suppressMessages(calibrate(rc, ~stype + api99, pop_api99, bounds = c(0.25, 4),
                                trim = c(2/3, 3/2), maxit = ctl$maxit, epsilon = ctl$epsilon))
add("replicate_trim_linear", "apiclus1", "rc",
    "calibrate(as.svrepdesign(dc), ~stype + api99, pop, bounds = c(0.25, 4), trim = c(2/3, 3/2))",
    list(method = "linear", lower = 0.25, upper = 4, trim = c(2/3, 3/2), replicates = "jk1"),
    totals_api99, f)

# -- stage = 1: calibration within the sampled first-stage clusters (two-stage apiclus2) ------------------
clus2_csv <- file.path(out_dir, "calibration_options_apiclus2.csv")
clus2 <- apiclus2[, c("dnum", "snum", "stype", "api99", "api00", "fpc1", "fpc2")]
clus2$fpc2 <- as.numeric(clus2$fpc2)
write.csv(clus2, clus2_csv, row.names = FALSE)
clus2 <- read.csv(clus2_csv, stringsAsFactors = TRUE)
d2 <- svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = clus2)
clus2$w <- weights(d2)                      # final design weight 1 / (pi_1 pi_2|1)
clus2$w1 <- 1 / d2$allprob[, 1]             # first-stage weight 1 / pi_1
districts <- unique(d2$cluster[, 1])
pop_count <- lapply(districts, function(dn) c(`(Intercept)` = sum(apipop$dnum == dn)))
pop_api99 <- lapply(districts, function(dn) c(api99 = sum(apipop$api99[apipop$dnum == dn])))
cluster_totals <- function(pop) setNames(lapply(pop, function(v) as.list(v)), as.character(districts))
stage_stat <- function(design) {
  old <- options(survey.ultimate.cluster = TRUE)
  on.exit(options(old))
  stat(design)
}
add_stage <- function(name, r_call, options, totals, fit) {
  cases[[length(cases) + 1]] <<- c(
    list(name = name, data = "apiclus2", design = "d2", r_call = r_call, options = options,
         totals = totals, weights = unname(weights(fit)), design_weights = clus2$w,
         stage_weights = clus2$w1),
    stage_stat(fit),
    # R's default multistage variance: each district's second-stage contribution is computed on
    # the residuals of that district's own calibration
    list(multistage = stat(fit)))
}
f <- calibrate(d2, ~1, pop_count, stage = 1)
add_stage("stage1_count", "calibrate(d2, ~1, <school counts of each sampled district>, stage = 1)",
          list(method = "linear", within = "dnum"), cluster_totals(pop_count), f)
f <- calibrate(d2, ~api99 - 1, pop_api99, stage = 1)
add_stage("stage1_api99", "calibrate(d2, ~api99 - 1, <api99 totals of each sampled district>, stage = 1)",
          list(method = "linear", within = "dnum"), cluster_totals(pop_api99), f)
f <- calibrate(d2, ~api99 - 1, pop_api99, stage = 1, variance = clus2$api99)
add_stage("stage1_api99_variance",
          "calibrate(d2, ~api99 - 1, <api99 totals of each sampled district>, stage = 1, variance = api99)",
          list(method = "linear", within = "dnum", variance = "api99"), cluster_totals(pop_api99), f)

out <- list(
  generated_by = "tests/estimators/weighting/reference/calibration_options_api.R",
  r_version = R.version.string,
  survey_version = as.character(packageVersion("survey")),
  designs = list(dc = "svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = apiclus1)",
                 ds = "svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = apistrat)",
                 rc = "as.svrepdesign(dc)  # JK1",
                 d2 = "svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2); SEs with options(survey.ultimate.cluster = TRUE)"),
  cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(out_dir, "calibration_options_api.json"))
