# Outside reference values for sampling/selection/_leverage.py and _pips_designs.py.
# Leverage: stats::hat() (Householder QR in LINPACK/LAPACK) on matrices generated here with R's RNG.
# Inclusion probabilities: sampling::inclusionprobabilities() (Tille's package).
# Run: Rscript tests/sampling/selection/reference/sensitivity_sampling.R  (writes sensitivity_sampling.json beside it)
suppressPackageStartupMessages({library(sampling); library(jsonlite)})
set.seed(20261122)
gauss <- matrix(rnorm(80 * 4), 80, 4)
heavy <- gauss * rt(80, df = 1)
deficient <- cbind(gauss, gauss[, 1] + 2 * gauss[, 3])  # rank 4 with 5 columns
lev <- function(x) as.numeric(hat(x, intercept = FALSE))
scores1 <- c(10, 1, 1, 2, 0.5, 7, 3, 3, 0.1, 20)
scores2 <- abs(rt(200, df = 1))
pik_s <- inclusionprobabilities(scores2, 30)[1:25]
y_s <- round(rnorm(25, 10, 3), 3)
out <- list(
  versions = list(R = R.version.string, sampling = as.character(packageVersion("sampling"))),
  gauss = gauss, heavy = heavy, deficient = deficient,
  leverage_gauss = lev(gauss), leverage_heavy = lev(heavy),
  leverage_deficient = lev(deficient), rank_deficient = qr(deficient)$rank,
  scores1 = scores1, pi_scores1_m4 = inclusionprobabilities(scores1, 4),
  scores2 = scores2, pi_scores2_m30 = inclusionprobabilities(scores2, 30),
  pi_scores2_m150 = inclusionprobabilities(scores2, 150),
  # Deville's variance approximation for fixed-size pi-ps designs (sampling::varest)
  varest_pik = pik_s, varest_y = y_s, varest = varest(Ys = y_s, pik = pik_s)
)
writeLines(toJSON(out, digits = NA, matrix = "rowmajor", auto_unbox = TRUE, pretty = FALSE),
           "sensitivity_sampling.json")
