# Outside truth for equisample's design-based variance (R survey on the api data).
#
# Run from the repository root:  Rscript tests/estimators/survey/reference/variance_api.R
# Writes tests/estimators/survey/reference/variance_api.json (reference values + package versions) and the input
# tables tests/estimators/survey/reference/variance_apistrat.csv, variance_apiclus1.csv, variance_scd.csv, and the
# exported bootstrap replicate weights variance_boot_*.csv.  CI never runs R; it reads these files.
suppressMessages(library(survey))
library(jsonlite)
options(survey.lonely.psu = "fail")
out_dir <- "tests/estimators/survey/reference"
data(api)
data(scd)

keep <- c("cds", "stype", "dnum", "snum", "pw", "fpc", "api00", "api99", "enroll", "sch.wide",
          "comp.imp", "meals", "ell", "both")
write.csv(apistrat[, keep], file.path(out_dir, "variance_apistrat.csv"), row.names = FALSE)
write.csv(apiclus1[, keep], file.path(out_dir, "variance_apiclus1.csv"), row.names = FALSE)
write.csv(scd, file.path(out_dir, "variance_scd.csv"), row.names = FALSE)

# full-precision CSV (write.csv keeps only 15 significant digits)
write_exact <- function(df, path) {
  df <- as.data.frame(df)
  for (nm in names(df)) if (is.numeric(df[[nm]])) df[[nm]] <- formatC(df[[nm]], digits = 17, format = "g")
  write.csv(df, path, row.names = FALSE, quote = FALSE)
}

cases <- list()
put <- function(name, est, se, deff = NULL, extra = list()) {
  item <- list(estimate = unname(as.numeric(est)), se = unname(as.numeric(as.matrix(se))))
  if (!is.null(deff)) item$deff <- unname(as.numeric(deff))
  for (k in names(extra)) item[[k]] <- extra[[k]]
  cases[[name]] <<- item
}
stat <- function(name, s, deff = FALSE) {
  put(name, coef(s), SE(s), if (deff) deff(s) else NULL)
}
byres <- function(name, b) {
  put(name, coef(b), SE(b), extra = list(levels = names(coef(b))))
}
quant <- function(name, q) {
  m <- q[[1]]
  put(name, m[, 1], m[, 4], extra = list(ci_lower = unname(m[, 2]), ci_upper = unname(m[, 3])))
}
quantby <- function(name, b) {
  put(name, b[, 2], b[, 3], extra = list(levels = as.character(rownames(b))))
}

# ---------------------------------------------------------------- plain Taylor designs
designs <- list(
  strat = svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat, fpc = ~fpc),
  strat_nofpc = svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat),
  clus1 = svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc),
  clus1_nofpc = svydesign(id = ~dnum, weights = ~pw, data = apiclus1)
)
battery <- function(prefix, d) {
  stat(paste0(prefix, "/mean_api00"), svymean(~api00, d, deff = TRUE), deff = TRUE)
  stat(paste0(prefix, "/mean_api00_replace"), svymean(~api00, d, deff = "replace"), deff = TRUE)
  stat(paste0(prefix, "/total_enroll"), svytotal(~enroll, d, deff = TRUE), deff = TRUE)
  stat(paste0(prefix, "/total_enroll_replace"), svytotal(~enroll, d, deff = "replace"), deff = TRUE)
  stat(paste0(prefix, "/proportion_sch.wide"), svymean(~sch.wide, d))
  r <- svyratio(~api00, ~api99, d)
  put(paste0(prefix, "/ratio_api00_api99"), coef(r), SE(r))
  byres(paste0(prefix, "/by_stype_mean_api00"), svyby(~api00, ~stype, d, svymean))
  byres(paste0(prefix, "/by_stype_total_enroll"), svyby(~enroll, ~stype, d, svytotal))
  byres(paste0(prefix, "/by_comp.imp_mean_api00"), svyby(~api00, ~comp.imp, d, svymean))
  byres(paste0(prefix, "/by_stype_proportion_sch.wide"), svyby(~sch.wide, ~stype, d, svymean))
  rb <- svyby(~api00, ~stype, denominator = ~api99, design = d, FUN = svyratio)
  put(paste0(prefix, "/by_stype_ratio_api00_api99"), coef(rb), SE(rb))
  quant(paste0(prefix, "/quantile_api00"), svyquantile(~api00, d, c(0.25, 0.5, 0.9)))
  quantby(paste0(prefix, "/by_stype_quantile_api00"),
          svyby(~api00, ~stype, d, svyquantile, quantiles = 0.5, keep.var = TRUE))
}
for (nm in names(designs)) battery(nm, designs[[nm]])

# lonely PSU options on a design with a singleton stratum (first 3 districts of apiclus1 as strata)
lonely <- apiclus1
lonely$grp <- ifelse(lonely$dnum %in% unique(lonely$dnum)[1:3], "a",
                     ifelse(lonely$dnum == unique(lonely$dnum)[4], "lonely", "b"))
write.csv(lonely[, c(keep, "grp")], file.path(out_dir, "variance_lonely.csv"), row.names = FALSE)
for (opt in c("adjust", "certainty", "remove")) {
  options(survey.lonely.psu = opt)
  dl <- svydesign(id = ~dnum, strata = ~grp, weights = ~pw, data = lonely)
  stat(paste0("lonely_", opt, "/mean_api00"), svymean(~api00, dl))
  stat(paste0("lonely_", opt, "/total_enroll"), svytotal(~enroll, dl))
}
options(survey.lonely.psu = "fail")

# ---------------------------------------------------------------- weighted (calibrated) designs
dclus1 <- designs$clus1
pop_types <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
pop_schwide <- data.frame(sch.wide = c("No", "Yes"), Freq = c(1072, 5122))
pop_totals <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018, api99 = 3914069)
weighted <- list(
  poststratify = postStratify(dclus1, ~stype, pop_types),
  rake = rake(dclus1, list(~stype, ~sch.wide), list(pop_types, pop_schwide),
              control = list(maxit = 200, epsilon = 1e-14)),
  calibrate_linear = calibrate(dclus1, ~stype + api99, pop_totals),
  calibrate_linear_bounded = calibrate(dclus1, ~stype + api99, pop_totals, bounds = c(0.5, 1.8), maxit = 200, epsilon = 1e-12),
  calibrate_raking = calibrate(dclus1, ~stype + api99, pop_totals, calfun = "raking", epsilon = 1e-12, maxit = 200),
  calibrate_logit = calibrate(dclus1, ~stype + api99, pop_totals, calfun = "logit", bounds = c(0.5, 2), epsilon = 1e-12, maxit = 200),
  # the same margins as `rake` but calibrated (GREG variance convention)
  rake_greg = calibrate(dclus1, ~stype + sch.wide, c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018, sch.wideYes = 5122),
                        calfun = "raking", epsilon = 1e-13, maxit = 200)
)
weight_table <- data.frame(row = seq_len(nrow(apiclus1)))
for (nm in names(weighted)) {
  d <- weighted[[nm]]
  weight_table[[nm]] <- weights(d)
  battery(nm, d)
}
write_exact(weight_table, file.path(out_dir, "variance_calibrated_weights.csv"))

# ---------------------------------------------------------------- replicate designs
rep_battery <- function(prefix, r) {
  stat(paste0(prefix, "/mean_api00"), svymean(~api00, r))
  stat(paste0(prefix, "/total_enroll"), svytotal(~enroll, r))
  stat(paste0(prefix, "/proportion_sch.wide"), svymean(~sch.wide, r))
  rr <- svyratio(~api00, ~api99, r)
  put(paste0(prefix, "/ratio_api00_api99"), coef(rr), SE(rr))
  byres(paste0(prefix, "/by_stype_mean_api00"), svyby(~api00, ~stype, r, svymean))
  byres(paste0(prefix, "/by_stype_total_enroll"), svyby(~enroll, ~stype, r, svytotal))
  quant(paste0(prefix, "/quantile_api00"), svyquantile(~api00, r, c(0.25, 0.5, 0.9)))
  cases[[paste0(prefix, "/design")]] <<- list(scale = r$scale, rscales = unname(r$rscales),
                                              degf = degf(r), mse = r$mse)
}
set.seed(20261122)
reps <- list(
  jk1 = as.svrepdesign(designs$clus1, type = "JK1"),
  jk1_nofpc = as.svrepdesign(designs$clus1_nofpc, type = "JK1"),
  jkn = as.svrepdesign(designs$strat, type = "JKn"),
  jkn_nofpc = as.svrepdesign(designs$strat_nofpc, type = "JKn"),
  bootstrap = as.svrepdesign(designs$clus1_nofpc, type = "bootstrap", replicates = 50),
  subbootstrap = as.svrepdesign(designs$strat_nofpc, type = "subbootstrap", replicates = 60)
)
for (nm in names(reps)) rep_battery(nm, reps[[nm]])
for (nm in c("bootstrap", "subbootstrap")) {
  write_exact(weights(reps[[nm]], "analysis"), file.path(out_dir, paste0("variance_", nm, "_replicates.csv")))
}
# replicate designs re-weighted on every replicate
rep_weighted <- list(
  jk1_poststratify = postStratify(reps$jk1, ~stype, pop_types),
  jk1_rake = rake(reps$jk1, list(~stype, ~sch.wide), list(pop_types, pop_schwide),
                  control = list(maxit = 200, epsilon = 1e-14)),
  jk1_calibrate_linear = calibrate(reps$jk1, ~stype + api99, pop_totals),
  jk1_calibrate_raking = calibrate(reps$jk1, ~stype + api99, pop_totals, calfun = "raking", epsilon = 1e-12, maxit = 200)
)
for (nm in names(rep_weighted)) rep_battery(nm, rep_weighted[[nm]])

# BRR and Fay on scd (3 strata of 2 ambulances)
scdnofpc <- svydesign(data = scd, prob = ~1, id = ~ambulance, strata = ~ESA, nest = TRUE)
scd_battery <- function(prefix, r) {
  stat(paste0(prefix, "/mean_arrests"), svymean(~arrests, r))
  stat(paste0(prefix, "/total_alive"), svytotal(~alive, r))
  rr <- svyratio(~alive, ~arrests, r)
  put(paste0(prefix, "/ratio_alive_arrests"), coef(rr), SE(rr))
  cases[[paste0(prefix, "/design")]] <<- list(scale = r$scale, rscales = unname(r$rscales),
                                              degf = degf(r), mse = r$mse,
                                              replicate_weights = unname(as.matrix(weights(r, "analysis"))))
}
scd_battery("scd_brr", as.svrepdesign(scdnofpc, type = "BRR"))
scd_battery("scd_fay", as.svrepdesign(scdnofpc, type = "Fay", fay.rho = 0.3))
repweights <- 2 * cbind(c(1, 0, 1, 0, 1, 0), c(1, 0, 0, 1, 0, 1), c(0, 1, 1, 0, 0, 1), c(0, 1, 0, 1, 1, 0))
scd_battery("scd_user_brr", svrepdesign(data = scd, type = "BRR", repweights = repweights,
                                        combined.weights = FALSE))
scd_battery("scd_taylor", scdnofpc)
acs <- svrepdesign(data = apistrat, weights = ~pw, type = "successive-difference",
                   repweights = as.matrix(weights(reps$subbootstrap, "analysis"))[, 1:20],
                   combined.weights = TRUE, mse = TRUE)
stat("successive_difference/mean_api00", svymean(~api00, acs))
cases[["successive_difference/design"]] <- list(scale = acs$scale, rscales = unname(acs$rscales), mse = acs$mse)

result <- list(
  generated_by = "tests/estimators/survey/reference/variance_api.R",
  r_version = R.version.string,
  survey_version = as.character(packageVersion("survey")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  options = list(survey.lonely.psu = "fail (except lonely_* cases)", survey.replicates.mse = "FALSE (R default)"),
  cases = cases
)
writeLines(toJSON(result, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(out_dir, "variance_api.json"))
cat("wrote", length(cases), "cases\n")
