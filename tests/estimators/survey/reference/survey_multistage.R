# Outside truth for designs with three stages and for the multistage rescaled bootstrap (mrb).
#
# Run from the repository root:  Rscript tests/estimators/survey/reference/survey_multistage.R
# R survey has no three-stage example data, so this script draws one, as R survey's own tests
# build their data: a stratified three-stage sample (districts in 3 strata, schools within
# districts in two second-stage strata, pupils within schools) with the population sizes of every
# stage, written to survey_multistage.csv; survey_multistage_lonely.csv is the same sample with
# one district keeping a single school and one school a single pupil (lonely units at stages 2
# and 3), survey_multistage_lonely_strata.csv with one district keeping a single school of one
# kind (a lonely stage-2 stratum next to one that is not). Writes survey_multistage.json: one entry per case with R's call and its values. CI never
# runs R; it reads the JSON.
suppressPackageStartupMessages({
  library(survey)
  library(jsonlite)
})
out_dir <- "tests/estimators/survey/reference"
set.seed(20260101)

# -- the sample: stratum s1 -> district (psu) -> school (ssu, in stratum s2) -> pupil (tsu) ------
N1 <- c(A = 14, B = 10, C = 9)   # districts in the population of each stratum
n1 <- c(A = 5, B = 4, C = 3)     # districts sampled
rows <- list()
psu_id <- 0
for (h in names(N1)) {
  for (i in seq_len(n1[[h]])) {
    psu_id <- psu_id + 1
    for (s2 in c("public", "private")) {
      M <- sample(4:9, 1)          # schools of this kind in the district
      m <- sample(2:3, 1)          # sampled
      for (j in seq_len(m)) {
        K <- sample(8:25, 1)       # pupils in the school
        k <- sample(2:5, 1)        # sampled
        school_effect <- rnorm(1, 0, 4)
        for (l in seq_len(k)) {
          x <- round(runif(1, 20, 60), 2)
          y <- round(50 + 0.8 * x + 5 * (h == "B") + school_effect + rnorm(1, 0, 6), 2)
          rows[[length(rows) + 1]] <- data.frame(
            s1 = h, psu = psu_id, s2 = s2,
            ssu = paste0(substr(s2, 1, 2), j),   # school labels repeat across districts
            tsu = l,                              # pupil labels repeat across schools
            N1 = N1[[h]], M2 = NA, N3 = K, y = y, x = x,
            dom = sample(c("girls", "boys"), 1), kind = s2, stringsAsFactors = FALSE)
          rows[[length(rows)]]$M2 <- M
        }
      }
    }
  }
}
ms <- do.call(rbind, rows)
# schools per district (both kinds) in the population: the stage-2 fpc without stage-2 strata
ms$N2 <- ave(ms$M2, ms$psu, FUN = function(v) 0) 
for (p in unique(ms$psu)) {
  sub <- ms[ms$psu == p, ]
  ms$N2[ms$psu == p] <- sum(tapply(sub$M2, sub$s2, `[`, 1))
}
names(ms)[names(ms) == "M2"] <- "N2s"   # schools of the row's kind (stage-2 stratum) in the district
write.csv(ms, file.path(out_dir, "survey_multistage.csv"), row.names = FALSE)

# lonely units: district 2 keeps a single school, school "pu1" of district 7 a single pupil
lonely <- ms
keep_school <- lonely$ssu[lonely$psu == 2][1]
lonely <- lonely[!(lonely$psu == 2 & lonely$ssu != keep_school), ]
first_pupil <- lonely$psu == 7 & lonely$ssu == "pu1"
lonely <- lonely[!(first_pupil & lonely$tsu != 1), ]
write.csv(lonely, file.path(out_dir, "survey_multistage_lonely.csv"), row.names = FALSE)

# a lonely school among several strata: district 4 keeps a single private school (with stage-2
# strata, its private stratum is lonely and its public one is not)
private4 <- ms$psu == 4 & ms$s2 == "private"
lonely_strata <- ms[!(private4 & ms$ssu != ms$ssu[private4][1]), ]
write.csv(lonely_strata, file.path(out_dir, "survey_multistage_lonely_strata.csv"), row.names = FALSE)

ms <- read.csv(file.path(out_dir, "survey_multistage.csv"), stringsAsFactors = TRUE)
lonely <- read.csv(file.path(out_dir, "survey_multistage_lonely.csv"), stringsAsFactors = TRUE)
lonely_strata <- read.csv(file.path(out_dir, "survey_multistage_lonely_strata.csv"),
                          stringsAsFactors = TRUE)

cases <- list()
put <- function(name, call, ...) {
  cases[[name]] <<- c(list(r_call = call), list(...))
}
summarise <- function(name, call, d) {
  t <- svytotal(~y, d)
  m <- svymean(~y, d)
  r <- svyratio(~y, ~x, d)
  bm <- svyby(~y, ~dom, d, svymean)
  bt <- svyby(~y, ~dom, d, svytotal)
  br <- svyby(~y, ~dom, d, svyratio, denominator = ~x)
  put(name, call,
      weights = unname(weights(d)),
      total = unname(coef(t)), total_se = unname(SE(t)),
      mean = unname(coef(m)), mean_se = unname(SE(m)),
      ratio = unname(as.numeric(coef(r))), ratio_se = unname(as.numeric(SE(r))),
      by_levels = as.character(bm$dom),
      by_mean = unname(bm$y), by_mean_se = unname(SE(bm)),
      by_total = unname(bt$y), by_total_se = unname(SE(bt)),
      by_ratio = unname(as.numeric(coef(br))), by_ratio_se = unname(as.numeric(SE(br))))
}

designs <- list(
  three_stage = list("svydesign(id=~psu+ssu+tsu, strata=~s1, fpc=~N1+N2+N3, data=ms)",
                     svydesign(id = ~psu + ssu + tsu, strata = ~s1, fpc = ~N1 + N2 + N3, data = ms)),
  three_stage_fraction = list(
    "svydesign(id=~psu+ssu+tsu, strata=~s1, fpc=~f1+f2+f3, data=ms), f = n / N per stage",
    svydesign(id = ~psu + ssu + tsu, strata = ~s1,
              fpc = ~I(ave(psu, s1, FUN = function(v) length(unique(v))) / N1) +
                I(ave(as.integer(ssu), psu, FUN = function(v) length(unique(v))) / N2) +
                I(ave(tsu, psu, ssu, FUN = length) / N3), data = ms)),
  three_stage_strata = list(
    "svydesign(id=~psu+ssu+tsu, strata=~s1+s2, fpc=~N1+N2s+N3, data=ms)",
    svydesign(id = ~psu + ssu + tsu, strata = ~s1 + s2, fpc = ~N1 + N2s + N3, data = ms)),
  three_stage_weighted = list(
    "svydesign(id=~psu+ssu+tsu, strata=~s1, fpc=~N1+N2+N3, weights=~I(1.1 + x / 100), data=ms)",
    svydesign(id = ~psu + ssu + tsu, strata = ~s1, fpc = ~N1 + N2 + N3,
              weights = ~I(1.1 + x / 100), data = ms)),
  third_stage_with_replacement = list(
    "svydesign(id=~psu+ssu+tsu, strata=~s1, fpc=~N1+N2+I(Inf*N3), weights=~I(1.1 + x / 100), data=ms)",
    svydesign(id = ~psu + ssu + tsu, strata = ~s1, fpc = ~N1 + N2 + I(Inf * N3),
              weights = ~I(1.1 + x / 100), data = ms)),
  second_stage_with_replacement = list(
    "svydesign(id=~psu+ssu+tsu, strata=~s1, fpc=~N1+I(Inf*N2)+N3, weights=~I(1.1 + x / 100), data=ms)",
    svydesign(id = ~psu + ssu + tsu, strata = ~s1, fpc = ~N1 + I(Inf * N2) + N3,
              weights = ~I(1.1 + x / 100), data = ms)),
  two_stage_of_three = list(
    "svydesign(id=~psu+ssu, strata=~s1, fpc=~N1+N2, data=ms)",
    svydesign(id = ~psu + ssu, strata = ~s1, fpc = ~N1 + N2, data = ms))
)
for (nm in names(designs)) summarise(paste0("design/", nm), designs[[nm]][[1]], designs[[nm]][[2]])

# -- calibrated three-stage design: the calibration residuals go through every stage ---------------
d3 <- designs$three_stage[[2]]
est_totals <- coef(svytotal(~kind + x, d3))
cal_totals <- c(`(Intercept)` = round(1.03 * sum(est_totals[1:2])),
                kindpublic = round(0.98 * est_totals[["kindpublic"]]),
                x = round(1.01 * est_totals[["x"]]))
summarise("calibrated/three_stage",
          "calibrate(svydesign(id=~psu+ssu+tsu, strata=~s1, fpc=~N1+N2+N3, data=ms), ~kind + x, cal_totals)",
          calibrate(d3, ~kind + x, cal_totals))
cases[["calibrated/three_stage"]]$totals <- as.list(cal_totals)

# -- lonely units at stages 2 and 3, with each survey.lonely.psu option ---------------------------
for (opt in c("adjust", "average", "certainty", "remove")) {
  for (dl in c(FALSE, TRUE)) {
    options(survey.lonely.psu = opt, survey.adjust.domain.lonely = dl)
    d <- svydesign(id = ~psu + ssu + tsu, strata = ~s1, fpc = ~N1 + N2 + N3, data = lonely)
    summarise(sprintf("lonely/%s/%s", opt, tolower(dl)),
              sprintf("options(survey.lonely.psu='%s', survey.adjust.domain.lonely=%s); svydesign(id=~psu+ssu+tsu, strata=~s1, fpc=~N1+N2+N3, data=lonely)", opt, dl),
              suppressWarnings(d))
    d <- svydesign(id = ~psu + ssu + tsu, strata = ~s1 + s2, fpc = ~N1 + N2s + N3,
                   data = lonely_strata)
    summarise(sprintf("lonely_strata/%s/%s", opt, tolower(dl)),
              sprintf("options(survey.lonely.psu='%s', survey.adjust.domain.lonely=%s); svydesign(id=~psu+ssu+tsu, strata=~s1+s2, fpc=~N1+N2s+N3, data=lonely_strata)", opt, dl),
              suppressWarnings(d))
  }
}
options(survey.lonely.psu = "fail", survey.adjust.domain.lonely = FALSE)

# -- mrb: R's mrbweights variance of totals over many replicates (random: a second check) -- ----------
mrb_check <- function(name, d, replicates) {
  set.seed(7)
  w <- survey:::mrbweights(d$cluster, d$strata, d$fpc, replicates = replicates)
  pw <- weights(d)
  totals <- colSums(w$repweights * pw * d$variables$y)
  totals_x <- colSums(w$repweights * pw * d$variables$x)
  sq <- (totals - mean(totals))^2
  sqx <- (totals_x - mean(totals_x))^2
  taylor <- SE(svytotal(~y + x, d))^2
  put(paste0("mrb/", name), sprintf("mrbweights(d$cluster, d$strata, d$fpc, replicates=%d)", replicates),
      replicates = replicates,
      variance_y = sum(sq) / (replicates - 1), variance_x = sum(sqx) / (replicates - 1),
      mc_se_y = sd(sq) / sqrt(replicates), mc_se_x = sd(sqx) / sqrt(replicates),
      taylor_variance_y = unname(taylor[1]), taylor_variance_x = unname(taylor[2]))
}
# (R's mrbweights loops over strata in R: about 0.02-0.08 s per replicate here)
replicates <- as.integer(Sys.getenv("MRB_REPLICATES", "4000"))
if (replicates > 0) {
  mrb_check("three_stage", designs$three_stage[[2]], replicates)
  mrb_check("three_stage_strata", designs$three_stage_strata[[2]], replicates)
} else {  # keep the stored mrb entries (MRB_REPLICATES=0: the other cases only)
  old <- fromJSON(file.path(out_dir, "survey_multistage.json"), simplifyVector = FALSE)$cases
  for (nm in grep("^mrb/", names(old), value = TRUE)) cases[[nm]] <- old[[nm]]
}

out <- list(r_version = R.version.string, survey_version = as.character(packageVersion("survey")),
            cases = cases)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(out_dir, "survey_multistage.json"))
