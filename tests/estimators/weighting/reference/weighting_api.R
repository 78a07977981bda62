# Reference weights for equisample's weighting engine, from R `survey` on the `api` data it ships.
#
# Run from the repository root:   Rscript tests/estimators/weighting/reference/weighting_api.R
# Writes (CI reads these; it never runs R):
#   tests/estimators/weighting/reference/weighting_apistrat.csv   input rows of apistrat (columns used below)
#   tests/estimators/weighting/reference/weighting_apiclus1.csv   input rows of apiclus1
#   tests/estimators/weighting/reference/weighting_api.json       one entry per case: the call, the margins / totals in a
#                                            neutral form, the options, and R's weights in row order
# The data are written to CSV first and read back, so R and Python start from identical doubles.
# Convergence tolerances are tightened far below the defaults so the weights are R's fixed points.
suppressPackageStartupMessages({
  library(survey)
  library(jsonlite)
})
data(api)

out_dir <- "tests/estimators/weighting/reference"
strat_csv <- file.path(out_dir, "weighting_apistrat.csv")
clus_csv <- file.path(out_dir, "weighting_apiclus1.csv")

# -- input data --------------------------------------------------------------------------------
keep <- c("snum", "dnum", "stype", "sch.wide", "comp.imp", "awards", "both", "api99", "api00",
          "enroll", "pw", "fpc")
strat <- apistrat[, keep]
# A synthetic design weight that varies inside every cell of every margin used below.
strat$dw <- strat$pw * (1 + (strat$snum %% 7) / 6)
write.csv(strat, strat_csv, row.names = FALSE)
write.csv(apiclus1[, setdiff(keep, "enroll")], clus_csv, row.names = FALSE)
strat <- read.csv(strat_csv, stringsAsFactors = TRUE)
clus <- read.csv(clus_csv, stringsAsFactors = TRUE)

ds <- svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = strat)
ds_dw <- svydesign(id = ~1, weights = ~dw, data = strat)
dc <- svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = clus)

# -- population margins from apipop ---------------------------------------------------------------
pop_table <- function(vars) {
  tab <- as.data.frame(table(apipop[, vars, drop = FALSE]), stringsAsFactors = FALSE)
  names(tab) <- c(vars, "Freq")
  tab
}
margin_json <- function(vars) {
  tab <- pop_table(vars)
  list(variables = I(vars),
       levels = unname(lapply(seq_len(nrow(tab)), function(i) I(as.character(unlist(tab[i, vars]))))),
       targets = tab$Freq)
}
N <- nrow(apipop)
api99_total <- sum(apipop$api99)

cases <- list()
add_case <- function(case) cases[[length(cases) + 1]] <<- case

status_of <- function(expr) {
  tryCatch(list(ok = TRUE, value = withCallingHandlers(expr, warning = function(w) {
    warning_messages <<- c(warning_messages, conditionMessage(w))
    invokeRestart("muffleWarning")
  })), error = function(e) list(ok = FALSE, message = conditionMessage(e)))
}

# -- rake ---------------------------------------------------------------------------------------------
rake_case <- function(name, design, data_name, weight_col, margins_vars, note) {
  sample_margins <- lapply(margins_vars, function(v) as.formula(paste("~", paste(v, collapse = "+"))))
  pop_margins <- lapply(margins_vars, pop_table)
  r <- rake(design, sample_margins, pop_margins,
            control = list(maxit = 5000, epsilon = 1e-15, verbose = FALSE))
  w <- weights(r)
  # Largest relative misfit of any margin cell, as a check that R reached its fixed point.
  misfit <- max(sapply(margins_vars, function(v) {
    tab <- pop_table(v)
    key_s <- do.call(paste, c(lapply(v, function(x) as.character(design$variables[[x]])), sep = "\r"))
    key_p <- do.call(paste, c(lapply(v, function(x) tab[[x]]), sep = "\r"))
    est <- tapply(w, key_s, sum)[key_p]
    max(abs(est - tab$Freq) / tab$Freq)
  }))
  add_case(list(name = name, fun = "rake", data = data_name, design_weights = weight_col,
                margins = lapply(margins_vars, margin_json), note = note,
                r_call = sprintf("rake(design, list(%s), <apipop tables>, control=list(maxit=5000, epsilon=1e-15))",
                                 paste(sapply(sample_margins, deparse), collapse = ", ")),
                r_max_relative_margin_error = misfit, weights = unname(w)))
}
rake_case("rake_apistrat_oneway", ds, "apistrat", "pw", list("stype", "sch.wide", "awards"),
          "one-way margins; pw varies within the sch.wide and awards cells")
rake_case("rake_apistrat_joint", ds, "apistrat", "pw", list(c("stype", "sch.wide"), "awards", "comp.imp"),
          "joint stype x sch.wide margin as one raking dimension plus two one-way margins")
rake_case("rake_apistrat_dw", ds_dw, "apistrat", "dw", list("stype", "sch.wide", "comp.imp"),
          "synthetic design weight dw varying within every cell")
rake_case("rake_apiclus1_joint", dc, "apiclus1", "pw", list(c("stype", "sch.wide"), "comp.imp"),
          "cluster sample, joint margin")

# -- calibrate ----------------------------------------------------------------------------------------
pop_main <- c(`(Intercept)` = N, stypeH = sum(apipop$stype == "H"), stypeM = sum(apipop$stype == "M"),
              sch.wideYes = sum(apipop$sch.wide == "Yes"), api99 = api99_total)
joint <- pop_table(c("stype", "sch.wide"))
jcount <- function(s, w) joint$Freq[joint$stype == s & joint$sch.wide == w]
pop_joint <- c(`(Intercept)` = N, stypeH = sum(apipop$stype == "H"), stypeM = sum(apipop$stype == "M"),
               sch.wideYes = sum(apipop$sch.wide == "Yes"),
               api99 = api99_total,
               `stypeH:sch.wideYes` = jcount("H", "Yes"), `stypeM:sch.wideYes` = jcount("M", "Yes"))

calibrate_case <- function(name, design, data_name, formula, population, totals_json, calfun, bounds, note) {
  warning_messages <<- character(0)
  args <- list(design, formula, population, calfun = calfun, epsilon = 1e-13, maxit = 500)
  if (!is.null(bounds)) args$bounds <- bounds
  res <- status_of(do.call(calibrate, args))
  entry <- list(name = name, fun = "calibrate", data = data_name, design_weights = "pw",
                totals = totals_json, method = calfun,
                bounds = if (is.null(bounds)) NULL else bounds, note = note,
                r_call = sprintf("calibrate(design, %s, population, calfun='%s'%s, epsilon=1e-13, maxit=500)",
                                 deparse(formula), calfun,
                                 if (is.null(bounds)) "" else sprintf(", bounds=c(%g, %g)", bounds[1], bounds[2])),
                r_population = as.list(population), r_warnings = warning_messages)
  if (res$ok) {
    entry$r_status <- "ok"
    entry$weights <- unname(weights(res$value))
    g <- weights(res$value) / weights(design)
    entry$g_range <- range(g)
  } else {
    entry$r_status <- "error"
    entry$r_message <- res$message
  }
  add_case(entry)
}
totals_main <- list(categorical = list(margin_json("stype"), margin_json("sch.wide")),
                    numeric = list(api99 = api99_total))
totals_joint <- list(categorical = list(margin_json(c("stype", "sch.wide"))),
                     numeric = list(api99 = api99_total))
f_main <- ~stype + sch.wide + api99
for (spec in list(list("apistrat", ds, c(0.97, 1.03), c(0.5, 2)),
                  list("apiclus1", dc, c(0.6, 1.8), c(0.3, 3)))) {
  data_name <- spec[[1]]; design <- spec[[2]]; tight <- spec[[3]]; loose <- spec[[4]]
  for (calfun in c("linear", "raking")) {
    calibrate_case(sprintf("calibrate_%s_%s", data_name, calfun), design, data_name, f_main,
                   pop_main, totals_main, calfun, NULL, "no bounds")
    calibrate_case(sprintf("calibrate_%s_%s_bounded", data_name, calfun), design, data_name, f_main,
                   pop_main, totals_main, calfun, tight, "bounds active at the solution")
  }
  calibrate_case(sprintf("calibrate_%s_logit_loose", data_name), design, data_name, f_main,
                 pop_main, totals_main, "logit", loose,
                 "logit needs finite bounds; loose ones, not reached")
  calibrate_case(sprintf("calibrate_%s_logit_bounded", data_name), design, data_name, f_main,
                 pop_main, totals_main, "logit", tight, "tight logit bounds")
}
calibrate_case("calibrate_apistrat_raking_joint", ds, "apistrat", ~stype * sch.wide + api99, pop_joint,
               totals_joint, "raking", NULL, "joint stype x sch.wide totals plus a numeric total")
calibrate_case("calibrate_apiclus1_logit_infeasible", dc, "apiclus1", f_main, pop_main, totals_main,
               "logit", c(0.95, 1.05), "infeasible: R fails; equisample must raise InfeasibleError")

# -- calibrate on JK1 replicate weights (what WeightingStep.reweight must reproduce) -------------
# R calibrates every replicate from its own base weights with the same totals and bounds.
rep_design <- as.svrepdesign(dc, type = "JK1")
rep_base <- weights(rep_design, "analysis")
replicate_case <- function(name, calfun, bounds, note) {
  args <- list(rep_design, f_main, pop_main, calfun = calfun, epsilon = 1e-13, maxit = 500)
  if (!is.null(bounds)) args$bounds <- bounds
  cal <- do.call(calibrate, args)
  add_case(list(name = name, fun = "calibrate_replicates", data = "apiclus1", design_weights = "pw",
                totals = totals_main, method = calfun,
                bounds = if (is.null(bounds)) NULL else bounds, note = note,
                r_call = sprintf("calibrate(as.svrepdesign(design, type='JK1'), %s, population, calfun='%s'%s, epsilon=1e-13, maxit=500)",
                                 deparse(f_main), calfun,
                                 if (is.null(bounds)) "" else sprintf(", bounds=c(%g, %g)", bounds[1], bounds[2])),
                replicate_base_weights = unname(rep_base),
                weights = unname(weights(cal, "sampling")),
                replicate_weights = unname(weights(cal, "analysis"))))
}
replicate_case("replicates_apiclus1_linear", "linear", NULL, "JK1 (15 clusters), GREG per replicate")
replicate_case("replicates_apiclus1_raking", "raking", NULL, "JK1, raking per replicate")
replicate_case("replicates_apiclus1_raking_bounded", "raking", c(0.5, 2.5), "JK1, bounded raking")
replicate_case("replicates_apiclus1_logit", "logit", c(0.5, 2.5), "JK1, logit")

# rake and postStratify on the same JK1 replicate design
rake_rep <- rake(rep_design, list(~stype + sch.wide, ~comp.imp),
                 list(pop_table(c("stype", "sch.wide")), pop_table("comp.imp")),
                 control = list(maxit = 5000, epsilon = 1e-15, verbose = FALSE))
add_case(list(name = "replicates_apiclus1_rake", fun = "rake_replicates", data = "apiclus1",
              design_weights = "pw",
              margins = list(margin_json(c("stype", "sch.wide")), margin_json("comp.imp")),
              note = "JK1; R rakes every replicate by IPF",
              r_call = "rake(as.svrepdesign(design, type='JK1'), list(~stype+sch.wide, ~comp.imp), <apipop tables>, control=list(maxit=5000, epsilon=1e-15))",
              replicate_base_weights = unname(rep_base),
              weights = unname(weights(rake_rep, "sampling")),
              replicate_weights = unname(weights(rake_rep, "analysis"))))
post_rep <- postStratify(rep_design, ~stype + sch.wide, pop_table(c("stype", "sch.wide")))
add_case(list(name = "replicates_apiclus1_poststratify", fun = "poststratify_replicates",
              data = "apiclus1", design_weights = "pw", cells = I(c("stype", "sch.wide")),
              population = margin_json(c("stype", "sch.wide")),
              note = "JK1; R post-stratifies every replicate",
              r_call = "postStratify(as.svrepdesign(design, type='JK1'), ~stype+sch.wide, <apipop table>)",
              replicate_base_weights = unname(rep_base),
              weights = unname(weights(post_rep, "sampling")),
              replicate_weights = unname(weights(post_rep, "analysis"))))

# -- postStratify -------------------------------------------------------------------------------------
post_case <- function(name, design, data_name, vars, note) {
  strata_formula <- as.formula(paste("~", paste(vars, collapse = "+")))
  p <- postStratify(design, strata_formula, pop_table(vars))
  add_case(list(name = name, fun = "poststratify", data = data_name, design_weights = "pw",
                cells = I(vars), population = margin_json(vars), note = note,
                r_call = sprintf("postStratify(design, %s, <apipop table>)", deparse(strata_formula)),
                weights = unname(weights(p))))
}
post_case("poststratify_apiclus1_oneway", dc, "apiclus1", "stype", "one-way cells")
post_case("poststratify_apistrat_oneway", ds, "apistrat", "sch.wide", "one-way; pw varies within cells")
post_case("poststratify_apistrat_twoway", ds, "apistrat", c("sch.wide", "comp.imp"),
          "two-way cells; pw varies within cells")
post_case("poststratify_apiclus1_twoway", dc, "apiclus1", c("stype", "sch.wide"), "two-way cells")

# -- trimWeights ----------------------------------------------------------------------------------------
trim_base <- svydesign(id = ~1, weights = ~dw, data = strat)
trim_case <- function(name, lower, upper, strict, note) {
  t <- trimWeights(trim_base, upper = upper, lower = lower, strict = strict)
  add_case(list(name = name, fun = "trim", data = "apistrat", design_weights = "dw",
                lower = if (is.finite(lower)) lower else NULL,
                upper = if (is.finite(upper)) upper else NULL, strict = strict, note = note,
                r_call = sprintf("trimWeights(design, upper=%g, lower=%g, strict=%s)", upper, lower, strict),
                weights = unname(weights(t))))
}
trim_case("trim_apistrat_upper", -Inf, 70, FALSE, "upper only; excess shared equally by the others")
trim_case("trim_apistrat_both", 20, 70, FALSE, "lower and upper, one pass (may leave weights above upper)")
trim_case("trim_apistrat_both_strict", 20, 70, TRUE, "lower and upper, repeated until inside")
trim_case("trim_apistrat_upper_strict", -Inf, 60, TRUE, "upper only, repeated until inside")

# -- write --------------------------------------------------------------------------------------------
result <- list(
  generated_by = "tests/estimators/weighting/reference/weighting_api.R",
  generated_at = format(Sys.time(), "%Y-%m-%dT%H:%M:%SZ", tz = "UTC"),
  versions = list(R = R.version.string, survey = as.character(packageVersion("survey")),
                  jsonlite = as.character(packageVersion("jsonlite"))),
  data = list(apistrat = basename(strat_csv), apiclus1 = basename(clus_csv)),
  population = list(N = N, source = "survey::apipop (6194 California schools)"),
  cases = cases)
writeLines(toJSON(result, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           file.path(out_dir, "weighting_api.json"))
