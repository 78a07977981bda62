# Outside truth for trim(): R survey's trimWeights man-page example (survey 4.1-1).
#
# Run from the repository root:  Rscript tests/estimators/weighting/reference/trim_r_parity.R
# Reads tests/estimators/weighting/reference/weighting_apiclus1.csv (apiclus1, written by
# weighting_api.R) and writes trim_r_parity.json: the calibrated weights, the weights after
# trimWeights(lower=20, upper=45) with strict=FALSE and strict=TRUE, and svymean of api99, api00
# and stype on each design (estimates and SEs). CI never runs R; it reads the JSON.
suppressPackageStartupMessages({
  library(survey)
  library(jsonlite)
})
out_dir <- "tests/estimators/weighting/reference"
clus <- read.csv(file.path(out_dir, "weighting_apiclus1.csv"), stringsAsFactors = TRUE)

dclus1 <- svydesign(id = ~dnum, weights = ~pw, data = clus, fpc = ~fpc)
pop.totals <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018, api99 = 3914069)
dclus1g <- calibrate(dclus1, ~stype + api99, pop.totals)
dclus1t <- trimWeights(dclus1g, lower = 20, upper = 45)
dclus1tt <- trimWeights(dclus1g, lower = 20, upper = 45, strict = TRUE)

summarise <- function(design) {
  m <- svymean(~api99 + api00 + stype, design)
  list(weights = unname(weights(design)),
       mean_names = names(coef(m)),
       mean = unname(coef(m)),
       mean_se = unname(SE(m)))
}
out <- list(
  r_version = R.version.string,
  survey_version = as.character(packageVersion("survey")),
  source = "survey 4.1-1 man/trimWeights.Rd example",
  totals = list(stype = list(E = 6194 - 755 - 1018, H = 755, M = 1018), api99 = 3914069),
  lower = 20, upper = 45,
  calibrated = summarise(dclus1g),
  trimmed = summarise(dclus1t),
  trimmed_strict = summarise(dclus1tt)
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(out_dir, "trim_r_parity.json"))
