# Outside reference for design_quotas(margins, seed_table=...): iterative proportional fitting
# with base R's stats::loglin (Haberman's IPF), NOT equisample code.
# Seed: England & Wales Census 2011 adults, age (platform bands) x sex x ethnicity (5 groups).
# Targets: the one-way margins of the Census 2021 table in the same bands.
# Run from the repository root:  Rscript tests/sampling/quotas/reference/quotas_ipf.R
# Writes tests/sampling/quotas/reference/quotas_ipf.json (cells in sorted order, fitted shares, versions).
dir <- "estimators/data/census"
seed <- read.csv(file.path(dir, "uk_ew_census2011_adult_age_sex_ethnicity5_prolific_bands.csv"),
                 stringsAsFactors = FALSE)
now <- read.csv(file.path(dir, "uk_ew_census2021_adult_age_sex_ethnicity5.csv"), stringsAsFactors = FALSE)
now <- now[grepl("Prolific", now$variable, fixed = TRUE), ]
lev <- function(x) sort(unique(x), method = "radix")
dims <- list(age = lev(seed$age_band), sex = lev(seed$sex), ethnicity = lev(seed$ethnicity))
to_array <- function(d) {
  a <- array(0, dim = sapply(dims, length), dimnames = dims)
  for (i in seq_len(nrow(d))) a[d$age_band[i], d$sex[i], d$ethnicity[i]] <- a[d$age_band[i], d$sex[i], d$ethnicity[i]] + d$count[i]
  a
}
seed_a <- to_array(seed)
now_a <- to_array(now)
# a target table whose one-way margins are the 2021 margins (independence; only margins are used)
total <- sum(now_a)
m1 <- apply(now_a, 1, sum); m2 <- apply(now_a, 2, sum); m3 <- apply(now_a, 3, sum)
target <- outer(outer(m1, m2), m3) / total^2
fit <- loglin(target, margin = list(1, 2, 3), start = seed_a, fit = TRUE, eps = 1e-13, iter = 10000,
              print = FALSE)$fit
share <- fit / sum(fit)
grid <- expand.grid(age = dims$age, sex = dims$sex, ethnicity = dims$ethnicity, stringsAsFactors = FALSE)
grid$share <- share[cbind(grid$age, grid$sex, grid$ethnicity)]
grid <- grid[order(grid$age, grid$sex, grid$ethnicity, method = "radix"), ]
margins <- list(age = as.list(m1 / total), sex = as.list(m2 / total), ethnicity = as.list(m3 / total))
q <- function(s) paste0('"', s, '"')
num <- function(x) formatC(x, digits = 17, format = "g")
cells <- paste0('{"age": ', q(grid$age), ', "sex": ', q(grid$sex), ', "ethnicity": ', q(grid$ethnicity),
                ', "share": ', num(grid$share), '}', collapse = ",\n  ")
mjson <- paste0("{", paste0(sapply(names(margins), function(v) paste0(q(v), ": {",
  paste0(q(names(margins[[v]])), ": ", num(unlist(margins[[v]])), collapse = ", "), "}")), collapse = ", "), "}")
out <- paste0('{\n"generator": "tests/sampling/quotas/reference/quotas_ipf.R (stats::loglin IPF, eps 1e-13)",\n',
              '"r_version": ', q(R.version.string), ',\n',
              '"margins": ', mjson, ',\n"cells": [\n  ', cells, "\n]\n}\n")
writeLines(out, "tests/sampling/quotas/reference/quotas_ipf.json")
