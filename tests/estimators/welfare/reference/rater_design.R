## Reference values from R `survey` (and `convey`) for equisample.
## Run from this directory:  Rscript rater_design.R   (writes rater_design.json)
## Inputs: rater_design_raters.csv, rater_design_battles.csv,
##         rater_design_utilities.csv, rater_design_notes.txt
## (produced by generate_data.py).
suppressPackageStartupMessages({
  library(survey)
  library(jsonlite)
})
have_convey <- suppressWarnings(suppressPackageStartupMessages(
  requireNamespace("convey", quietly = TRUE)))
if (have_convey) suppressPackageStartupMessages(library(convey))

options_recorded <- list(
  survey.lonely.psu = getOption("survey.lonely.psu"),
  survey.replicates.mse = getOption("survey.replicates.mse"),
  survey.ultimate.cluster = getOption("survey.ultimate.cluster"),
  survey.adjust.domain.lonely = getOption("survey.adjust.domain.lonely")
)

raters  <- read.csv("rater_design_raters.csv", stringsAsFactors = FALSE)
battles <- read.csv("rater_design_battles.csv", stringsAsFactors = FALSE)
stopifnot(all(battles$winner == battles$first | battles$winner == battles$second))

opts <- paste0("m", 1:5)
battles$y <- as.numeric(battles$winner == battles$first)
for (k in opts[-1]) {
  battles[[paste0("x_", k)]] <- (battles$first == k) - (battles$second == k)
}
idx <- match(battles$rater, raters$rater)
stopifnot(!anyNA(idx))
battles$group   <- raters$group[idx]
battles$stratum <- raters$stratum[idx]
battles$weight  <- raters$weight[idx]
n_cmp <- table(battles$rater)
raters$n_comparisons <- as.numeric(n_cmp[raters$rater])

## Tight IRLS convergence so the reference coefficients are accurate to ~1e-13
## (glm default epsilon = 1e-8 stops one IRLS step early here: svyglm vcov then
## uses working weights from the previous step, ~3e-8 relative noise in vcov).
ctrl <- glm.control(epsilon = 1e-15, maxit = 100)
fml <- y ~ 0 + x_m2 + x_m3 + x_m4 + x_m5
xnames <- c("x_m2", "x_m3", "x_m4", "x_m5")

## ---- helpers --------------------------------------------------------------
pair_contrasts <- function(fit, b = coef(fit), V = vcov(fit)) {
  ## linear contrasts c'b, SE = sqrt(c' V c), from the fit's coef/vcov
  out <- list()
  for (i in 1:4) for (j in (i + 1):5) {
    cvec <- setNames(numeric(4), xnames)
    if (i > 1) cvec[paste0("x_", opts[i])] <- 1
    cvec[paste0("x_", opts[j])] <- cvec[paste0("x_", opts[j])] - 1
    out[[length(out) + 1]] <- list(
      contrast = paste0(opts[i], " - ", opts[j]),
      contrast_vector_m2_m5 = unname(cvec),
      estimate = sum(cvec * b[xnames]),
      se = sqrt(drop(t(cvec) %*% as.matrix(V)[xnames, xnames] %*% cvec)))
  }
  out
}
vcov_list <- function(V) {
  V <- as.matrix(V)
  list(names = colnames(V), matrix = unname(lapply(seq_len(nrow(V)), function(r) unname(V[r, ]))))
}
case_out <- function(fit, design_call, n_rows, extra = list()) {
  b <- coef(fit)
  V <- vcov(fit)
  c(list(design_call = design_call,
         coefficients = as.list(setNames(unname(b), sub("x_", "", names(b)))),
         coefficient_order = sub("x_", "", names(b)),
         vcov = vcov_list(V),
         se = as.list(setNames(unname(sqrt(diag(V))), sub("x_", "", names(b)))),
         contrasts = pair_contrasts(fit),
         n_rows = n_rows),
    extra)
}

cases <- list()

## ---- a. weighted_psu -----------------------------------------------------
des_a <- svydesign(id = ~rater, weights = ~weight, data = battles)
fit_a <- svyglm(fml, design = des_a, family = quasibinomial(), control = ctrl)
cases$weighted_psu <- case_out(fit_a,
  "svydesign(id = ~rater, weights = ~weight, data = battles); svyglm(y ~ 0 + x_m2 + x_m3 + x_m4 + x_m5, design, family = quasibinomial(), control = ctrl)",
  nrow(battles), list(dispersion_reported = unname(summary(fit_a)$dispersion[1]),
    default_glm_control_coef_maxabsdiff = max(abs(coef(fit_a) -
      coef(svyglm(fml, design = des_a, family = quasibinomial())))),
    default_glm_control_vcov_maxabsdiff = max(abs(vcov(fit_a) -
      vcov(svyglm(fml, design = des_a, family = quasibinomial()))))))

## ---- b. stratified -------------------------------------------------------
des_b <- svydesign(id = ~rater, strata = ~stratum, weights = ~weight, data = battles)
fit_b <- svyglm(fml, design = des_b, family = quasibinomial(), control = ctrl)
cases$stratified <- case_out(fit_b,
  "svydesign(id = ~rater, strata = ~stratum, weights = ~weight, data = battles) (rater ids are unique, so nest = TRUE is not needed; nest=FALSE default); svyglm(..., family = quasibinomial(), control = ctrl)",
  nrow(battles))

## ---- c. domain -----------------------------------------------------------
des_c <- subset(des_a, group == "B")
fit_c <- svyglm(fml, design = des_c, family = quasibinomial(), control = ctrl)
cases$domain <- case_out(fit_c,
  "subset(svydesign(id = ~rater, weights = ~weight, data = battles), group == \"B\"); svyglm(..., family = quasibinomial(), control = ctrl)",
  sum(battles$group == "B"),
  list(n_psu_total = length(unique(battles$rater)),
       n_psu_in_domain = length(unique(battles$rater[battles$group == "B"])),
       note = "subset() of a survey.design2 keeps all PSUs (domain estimation): out-of-domain rows get zero weight (prob=Inf); variance uses all 200 PSUs in the single (unstratified) stratum."))

## ---- d. jk1 --------------------------------------------------------------
des_d <- as.svrepdesign(des_a, type = "JK1")
fit_d <- svyglm(fml, design = des_d, family = quasibinomial(), control = ctrl)
cases$jk1 <- case_out(fit_d,
  "as.svrepdesign(svydesign(id = ~rater, weights = ~weight, data = battles), type = \"JK1\"); svyglm(..., family = quasibinomial(), control = ctrl)",
  nrow(battles),
  list(scale = des_d$scale,
       rscales_unique = unique(unname(des_d$rscales)),
       n_replicates = ncol(des_d$repweights),
       mse = des_d$mse,
       mse_option_value = getOption("survey.replicates.mse"),
       replicate_note = "JK1 deletes one rater (PSU) at a time; replicate weight = w * n/(n-1) for remaining raters, 0 for deleted; vcov = scale * sum_r rscales_r (b_r - bbar)^2 with mse=FALSE (centred at the mean of replicates)."))

## ---- e. win probabilities ------------------------------------------------
wp <- list()
e1 <- svycontrast(fit_a, quote(exp(x_m3 - x_m2) / (1 + exp(x_m3 - x_m2))))
e2 <- svycontrast(fit_a, quote(exp(x_m2) / (1 + exp(x_m2))))
cases$win_probability <- list(
  design_call = "design a (weighted_psu) fit; svycontrast(fit, quote(exp(x_m3 - x_m2)/(1+exp(x_m3 - x_m2)))) and svycontrast(fit, quote(exp(x_m2)/(1+exp(x_m2)))) (delta method)",
  m3_beats_m2 = list(expression = "expit(b_m3 - b_m2)", estimate = unname(coef(e1)[1]), se = unname(sqrt(vcov(e1)[1, 1]))),
  m2_beats_m1 = list(expression = "expit(b_m2)", estimate = unname(coef(e2)[1]), se = unname(sqrt(vcov(e2)[1, 1]))))

## ---- f. raked (rater-level raking, transferred to comparisons) -----------
pop_totals <- c(`(Intercept)` = 450, sexM = 210, `age35-54` = 160, `age55+` = 120)
des_r <- svydesign(id = ~rater, weights = ~weight, data = raters)
cal_r <- calibrate(des_r, ~sex + age, population = pop_totals, calfun = "raking", epsilon = 1e-13)
g_w <- weights(cal_r)
## check: survey::rake to the same margins gives the same weights
rk <- rake(des_r, list(~sex, ~age),
           list(data.frame(sex = c("F", "M"), Freq = c(240, 210)),
                data.frame(age = c("18-34", "35-54", "55+"), Freq = c(170, 160, 120))),
           control = list(maxit = 100, epsilon = 1e-12, verbose = FALSE))
rake_vs_calibrate_maxdiff <- max(abs(weights(rk) - g_w))
battles$weight_raked <- g_w[idx]

## point estimate: comparison-level fit with the rater's raked weight
des_f_pt <- svydesign(id = ~rater, weights = ~weight_raked, data = battles)
fit_f_pt <- svyglm(fml, design = des_f_pt, family = quasibinomial(), control = ctrl)
b_f <- coef(fit_f_pt)

## (f1) raked_linearized: sandwich A^-1 V A^-1 where V = vcov of svytotal of
##      the rater-level sums of the comparison scores on the *calibrated*
##      rater-level design (survey residualises them on the calibration
##      variables), A = sum_r w_r p_r (1-p_r) x_r x_r'.
sandwich_vcov <- function(b, wcol, rater_design) {
  X <- as.matrix(battles[, xnames])
  eta <- drop(X %*% b)
  p <- 1 / (1 + exp(-eta))
  U <- X * (battles$y - p)                        # unweighted comparison scores
  Z <- rowsum(U, battles$rater)[raters$rater, , drop = FALSE]
  colnames(Z) <- paste0("z_", xnames)
  dz <- do.call(update, c(list(rater_design), as.data.frame(Z)))
  tot <- svytotal(as.formula(paste("~", paste(colnames(Z), collapse = "+"))), dz)
  V <- vcov(tot)
  A <- crossprod(X * (battles[[wcol]] * p * (1 - p)), X)
  Ai <- solve(A)
  out <- Ai %*% V %*% Ai
  dimnames(out) <- list(xnames, xnames)
  out
}
## validation of the sandwich construction on the uncalibrated design (case a)
V_check_a <- sandwich_vcov(coef(fit_a), "weight", des_r)
sandwich_vs_svyglm_case_a_maxreldiff <- max(abs(V_check_a - vcov(fit_a)) / abs(vcov(fit_a)))
V_f1 <- sandwich_vcov(b_f, "weight_raked", cal_r)
raking_common <- list(
  population_totals = as.list(pop_totals),
  margins = list(sex = list(F = 240, M = 210), age = list(`18-34` = 170, `35-54` = 160, `55+` = 120)),
  rater_level_design = "des_r <- svydesign(id = ~rater, weights = ~weight, data = raters)",
  calibration_call = "calibrate(des_r, ~sex + age, population = c(`(Intercept)`=450, sexM=210, `age35-54`=160, `age55+`=120), calfun = \"raking\", epsilon = 1e-13)",
  rake_vs_calibrate_weight_maxabsdiff = rake_vs_calibrate_maxdiff,
  raked_weight_sum = sum(g_w),
  raked_weights = as.list(setNames(unname(g_w), raters$rater)),
  calibration_misfit_max = max(abs(colSums(model.matrix(~sex + age, raters) * g_w) - pop_totals)),
  g_range = range(g_w / raters$weight))
cases$raked_linearized <- c(list(
  design_call = "Point estimate: svyglm(y ~ 0 + x_m2+..+x_m5, svydesign(id=~rater, weights=~weight_raked, data=battles), quasibinomial()) where weight_raked = rater-level raked weight. Variance: A^-1 V A^-1 with A = sum_r w*_r p_r(1-p_r) x_r x_r' (comparison rows r, w* raked weight), V = vcov(svytotal(~z_x_m2+..+z_x_m5, calibrated rater-level design)), z_i = sum over rater i's comparisons of x_r (y_r - p_r) at the point estimate. survey residualises for calibration: e_i = g_i w_i (z_i - mm_i' B), B = (sum_i w_i mm_i mm_i')^-1 sum_i w_i mm_i z_i, mm = model.matrix(~sex+age), w = input weight, g = raking g-weight; V = n/(n-1) sum_i (e_i - ebar)(e_i - ebar)', n = 200 raters.",
  coefficients = as.list(setNames(unname(b_f), sub("x_", "", xnames))),
  coefficient_order = sub("x_", "", xnames),
  vcov = vcov_list(V_f1),
  se = as.list(setNames(unname(sqrt(diag(V_f1))), sub("x_", "", xnames))),
  contrasts = pair_contrasts(NULL, b_f, V_f1),
  n_rows = nrow(battles),
  validation = list(sandwich_vs_svyglm_case_a_max_rel_diff = sandwich_vs_svyglm_case_a_maxreldiff,
    note = "The same sandwich construction applied to the uncalibrated rater-level design reproduces vcov(svyglm) of case a to this relative precision."),
  vcov_ignoring_calibration = vcov_list(vcov(fit_f_pt))),
  raking_common)

## (f2) raked_jk1: JK1 on the rater-level design, each replicate re-raked,
##      replicate weights copied to the rater's comparisons.
rep_r <- as.svrepdesign(des_r, type = "JK1")
cal_rep <- calibrate(rep_r, ~sex + age, population = pop_totals, calfun = "raking", epsilon = 1e-13)
RW <- weights(cal_rep, "analysis")[idx, ]
FW <- weights(cal_rep, "sampling")[idx]
des_f2 <- svrepdesign(data = battles, repweights = RW, weights = FW, type = "other",
                      scale = cal_rep$scale, rscales = cal_rep$rscales,
                      combined.weights = TRUE, mse = cal_rep$mse)
fit_f2 <- svyglm(fml, design = des_f2, family = quasibinomial(), control = ctrl)
cases$raked_jk1 <- c(case_out(fit_f2,
  "rep_r <- as.svrepdesign(svydesign(id=~rater, weights=~weight, data=raters), type=\"JK1\"); cal_rep <- calibrate(rep_r, ~sex+age, population=pop_totals, calfun=\"raking\", epsilon=1e-13) (full-sample and each of the 200 replicate weight vectors raked to the same totals); comparison-level svrepdesign(data=battles, repweights=weights(cal_rep,\"analysis\")[rater index,], weights=weights(cal_rep,\"sampling\")[rater index], type=\"other\", scale=cal_rep$scale, rscales=cal_rep$rscales, combined.weights=TRUE, mse=cal_rep$mse); svyglm(..., quasibinomial())",
  nrow(battles),
  list(scale = cal_rep$scale, rscales_unique = unique(unname(cal_rep$rscales)),
       n_replicates = ncol(RW), mse = cal_rep$mse,
       full_sample_weights_equal_calibrate_weights_maxabsdiff = max(abs(weights(cal_rep, "sampling") - g_w)))),
  raking_common)

## ---- welfare -------------------------------------------------------------
util <- read.csv("rater_design_utilities.csv", stringsAsFactors = FALSE)
util$one <- 1
des_w <- svydesign(id = ~psu, strata = ~stratum, weights = ~weight, nest = TRUE, data = util)
des_w1 <- svydesign(id = ~psu, strata = ~stratum, weights = ~one, nest = TRUE, data = util)
welfare <- list()
m <- svymean(~u1, des_w)
welfare$svymean_u1 <- list(
  design_call = "svydesign(id=~psu, strata=~stratum, weights=~weight, nest=TRUE, data=util); svymean(~u1, design)",
  estimate = unname(coef(m)), se = as.numeric(SE(m)),
  n_rows = nrow(util), n_psu = nrow(unique(util[, c("stratum", "psu")])))

plugin_atk <- function(u, w, e) {
  mu <- sum(w * u) / sum(w)
  if (e == 1) ede <- exp(sum(w * log(u)) / sum(w)) else
    ede <- (sum(w * u^(1 - e)) / sum(w))^(1 / (1 - e))
  1 - ede / mu
}
gini_plugin <- function(u, w) {
  o <- order(u); u <- u[o]; w <- w[o]
  W <- sum(w); R <- cumsum(w)
  sum(w * u * (2 * R - w)) / (W * sum(w * u)) - 1
}

if (have_convey) {
  dc <- convey_prep(des_w)
  a05 <- svyatk(~u1, dc, epsilon = 0.5)
  a2 <- svyatk(~u1, dc, epsilon = 2)
  welfare$svyatk_u1 <- list(
    design_call = "convey_prep(svydesign(id=~psu, strata=~stratum, weights=~weight, nest=TRUE, data=util)); svyatk(~u1, design, epsilon = e)",
    epsilon_0.5 = list(estimate = unname(coef(a05)), se = as.numeric(SE(a05)),
                       plugin_index_check = plugin_atk(util$u1, util$weight, 0.5)),
    epsilon_2 = list(estimate = unname(coef(a2)), se = as.numeric(SE(a2)),
                     plugin_index_check = plugin_atk(util$u1, util$weight, 2)),
    returns = "the Atkinson index A_e = 1 - EDE_e/mean (plugin_index_check is our own weighted plug-in 1 - (sum w u^(1-e)/W)^(1/(1-e)) / (sum w u/W) for comparison)")
  dc1 <- convey_prep(des_w1)
  g1 <- svygini(~u1, dc1)
  welfare$svygini_u1_unit_weights <- list(
    design_call = "convey_prep(svydesign(id=~psu, strata=~stratum, weights=~one, nest=TRUE, data=util)) with one = 1 for all; svygini(~u1, design)",
    estimate = unname(coef(g1)), se = as.numeric(SE(g1)),
    plugin_formula_check = gini_plugin(util$u1, util$one))
  gw <- svygini(~u1, dc)
  welfare$svygini_u1_unequal_weights_extra <- list(
    design_call = "convey_prep(des_w); svygini(~u1, design)  [extra, not requested: linearised Gini with the unequal weights]",
    estimate = unname(coef(gw)), se = as.numeric(SE(gw)),
    plugin_formula_check = gini_plugin(util$u1, util$weight))
} else {
  welfare$convey_unavailable <- TRUE
}

## j. survey 4.1.1 refuses type = "JK1" for a stratified design
##    ("Can't use JK1 for a stratified design"), so we record that error and
##    give (j1) the stratified jackknife JKn on the requested design and
##    (j2) JK1 on the same data with the strata dropped (PSU = stratum x psu).
jk1_err <- tryCatch({ as.svrepdesign(des_w, type = "JK1"); NA_character_ },
                    error = function(e) conditionMessage(e))
rep_wn <- as.svrepdesign(des_w, type = "JKn")
gjn <- withReplicates(rep_wn, function(w, data) gini_plugin(data$u1, w))
welfare$gini_plugin_jkn <- list(
  design_call = "as.svrepdesign(svydesign(id=~psu, strata=~stratum, weights=~weight, nest=TRUE, data=util), type=\"JKn\"); withReplicates(rep, function(w, data) G(data$u1, w)) with G: sort by u; W=sum w; R_i=cumsum(w); G = sum w_i u_i (2R_i - w_i)/(W sum w_i u_i) - 1",
  estimate = unname(coef(gjn)), se = as.numeric(SE(gjn)),
  scale = rep_wn$scale, rscales_unique = unique(unname(rep_wn$rscales)),
  n_replicates = ncol(as.matrix(rep_wn$repweights)), mse = rep_wn$mse,
  jk1_error_on_stratified_design = jk1_err,
  note = "Requested JK1 is refused by survey 4.1.1 for a stratified design; this is the stratified delete-one-PSU jackknife: a PSU in stratum h is deleted, other PSUs of stratum h get factor n_h/(n_h-1), other strata unchanged; scale = 1, rscales = (n_h-1)/n_h for a replicate deleting a PSU of stratum h; see the mse field for centring (FALSE = deviations from the mean of the replicates).")
util$psu_id <- paste(util$stratum, util$psu, sep = "_")
des_w_nostrata <- svydesign(id = ~psu_id, weights = ~weight, data = util)
rep_w1 <- as.svrepdesign(des_w_nostrata, type = "JK1")
gj1 <- withReplicates(rep_w1, function(w, data) gini_plugin(data$u1, w))
welfare$gini_plugin_jk1_strata_ignored <- list(
  design_call = "util$psu_id <- paste(stratum, psu, sep='_'); as.svrepdesign(svydesign(id=~psu_id, weights=~weight, data=util), type=\"JK1\"); withReplicates(rep, function(w, data) G(data$u1, w)), same G",
  estimate = unname(coef(gj1)), se = as.numeric(SE(gj1)),
  scale = rep_w1$scale, rscales_unique = unique(unname(rep_w1$rscales)),
  n_replicates = ncol(as.matrix(rep_w1$repweights)), mse = rep_w1$mse,
  note = "JK1 with strata dropped: one of the 100 PSUs deleted per replicate, all remaining PSUs multiplied by 100/99; scale = 99/100, rscales = 1.")

## ---- write ---------------------------------------------------------------
versions <- list(R = R.version.string,
                 survey = as.character(packageVersion("survey")),
                 convey = if (have_convey) as.character(packageVersion("convey")) else NA,
                 jsonlite = as.character(packageVersion("jsonlite")))
notes <- paste(readLines("rater_design_notes.txt"), collapse = "\n")
out <- list(generated = "2026-12-07", versions = versions, options = options_recorded,
            data = list(raters = "rater_design_raters.csv", battles = "rater_design_battles.csv",
                        utilities = "rater_design_utilities.csv",
                        n_raters = nrow(raters), n_battles = nrow(battles), n_utilities = nrow(util)),
            model = "Bradley-Terry as logistic regression without intercept: y = 1 if `first` won; x_k = +1 if option k is first, -1 if second, else 0, k = m2..m5; m1 is the reference (log-strength 0). Comparison-level rows carry their rater's weight.",
            bt_cases = cases, welfare_cases = welfare, notes = notes)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"), "rater_design.json")
cat("wrote rater_design.json\n")
