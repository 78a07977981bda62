# Reference values for estimators.welfare / utility_table: weighted means and linearised SEs
# from R survey::svymean on the PRISM-schema synthetic sample (estimators/data/prism_sample).
# Run from the repository root:  Rscript tests/estimators/welfare/reference/welfare_svymean.R
# Writes tests/estimators/welfare/reference/welfare_svymean.json.
suppressPackageStartupMessages({library(survey); library(jsonlite)})
utt <- stream_in(file("estimators/data/prism_sample/utterances.jsonl"), verbose = FALSE)
survey_tab <- stream_in(file("estimators/data/prism_sample/survey.jsonl"), verbose = FALSE)
utt <- utt[utt$turn == 0, ]
# member-mean utilities: each rater's mean first-turn score per model
cells <- aggregate(score ~ user_id + model_name, data = utt, FUN = mean)
wide <- reshape(cells, idvar = "user_id", timevar = "model_name", direction = "wide")
names(wide) <- sub("^score\\.", "", names(wide))
# every surveyed participant is a rater (PSU); those who rated nothing have all-missing utilities
raters <- data.frame(user_id = survey_tab$user_id, gender = survey_tab$gender,
                     locale = survey_tab$study_locale)
wide <- merge(raters, wide, by = "user_id", all.x = TRUE, sort = TRUE)
# deterministic unequal weights: 0.5 + 0.37 * (k mod 5) for participant "user<k>"
k <- as.integer(sub("user", "", wide$user_id))
wide$w <- 0.5 + 0.37 * (k %% 5)
models <- sort(unique(cells$model_name))
des <- svydesign(ids = ~1, weights = ~w, data = wide)
out <- list(overall = list(), by_gender = list())
for (m in models) {
  f <- as.formula(paste0("~`", m, "`"))
  sub <- subset(des, !is.na(wide[[m]]))
  est <- svymean(f, sub)
  out$overall[[m]] <- list(mean = unname(coef(est)), se = unname(SE(est)),
                           n = sum(!is.na(wide[[m]])))
  byest <- svyby(f, ~gender, sub, svymean)
  out$by_gender[[m]] <- list(gender = as.character(byest$gender),
                             mean = unname(coef(byest)), se = unname(SE(byest)))
}
# a stratified design (strata = study locale, raters as PSUs) for the SurveyDesign path
sdes <- svydesign(ids = ~1, strata = ~locale, weights = ~w, data = wide)
out$stratified <- list()
for (m in models) {
  f <- as.formula(paste0("~`", m, "`"))
  sub <- subset(sdes, !is.na(wide[[m]]))
  est <- svymean(f, sub)
  byest <- svyby(f, ~gender, sub, svymean)
  out$stratified[[m]] <- list(mean = unname(coef(est)), se = unname(SE(est)),
                              gender = as.character(byest$gender), by_se = unname(SE(byest)))
}
# a raked design (equal base weights, raked to gender shares 0.50 / 0.48 / 0.02 of n = 48)
base <- svydesign(ids = ~1, data = wide)
pop <- data.frame(gender = c("Female", "Male", "Non-binary / third gender"),
                  Freq = c(0.50, 0.48, 0.02) * nrow(wide))
raked <- rake(base, list(~gender), list(pop))
out$raked <- list()
for (m in models) {
  f <- as.formula(paste0("~`", m, "`"))
  est <- svymean(f, raked, na.rm = TRUE)
  out$raked[[m]] <- list(mean = unname(coef(est)), se = unname(SE(est)))
}
out$weights <- setNames(as.list(wide$w), wide$user_id)
out$utilities <- lapply(setNames(models, models), function(m) setNames(as.list(wide[[m]]), wide$user_id))
out$versions <- list(R = R.version.string, survey = as.character(packageVersion("survey")),
                     jsonlite = as.character(packageVersion("jsonlite")))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null", pretty = TRUE),
           "tests/estimators/welfare/reference/welfare_svymean.json")
