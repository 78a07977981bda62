# Reference Bethel-Chromy allocations for tests/sampling/allocation/test_classical_allocation.py.
# SamplingStrata's bethel() (github:barcaroli/SamplingStrata, R/Bethel.r, commit c6a3a11), sourced
# as a single file ON THE DEVELOPER MACHINE ONLY: its code is not part of equisample.
# Run: Rscript tests/sampling/allocation/reference/allocation_bethel.R /path/to/SamplingStrata/R/Bethel.r
#
# bethel() minimises sum(COST * n) subject to CV(total of variable j in domain d) <= CV_jd,
# i.e. sum_h N_h^2 S_hj^2 / n_h - sum_h N_h S_hj^2 <= (CV_jd * Y_jd)^2 over the strata of d,
# by Chromy's algorithm; strata with n_h > N_h become take-all and the rest is re-solved.
# realAllocation = TRUE returns the continuous allocation; maxiter and epsilon are set tight.
args <- commandArgs(trailingOnly = TRUE)
src <- if (length(args) >= 1) args[1] else "/tmp/ss/Bethel.r"
source(src)
library(jsonlite)

run <- function(stratif, errors) {
  n <- bethel(stratif, errors, minnumstrat = 1, maxiter = 200000, maxiter1 = 50,
              realAllocation = TRUE, epsilon = 1e-16)
  as.numeric(n)
}

out <- list(versions = list(R = R.version.string,
                            SamplingStrata_bethel = "github:barcaroli/SamplingStrata R/Bethel.r @ c6a3a11"),
            cases = list())

# 1. Four strata, two variables, unequal costs, one domain, no take-all.
s1 <- data.frame(STRATO = 1:4, N = c(2000, 1500, 3000, 800),
                 M1 = c(10, 12, 8, 20), M2 = c(100, 80, 120, 60),
                 S1 = c(4, 6, 3, 9), S2 = c(30, 25, 50, 20),
                 COST = c(1, 2, 1.5, 3), CENS = 0, DOM1 = 1)
e1 <- data.frame(DOM = "DOM1", CV1 = 0.01, CV2 = 0.015, domainvalue = 1)
out$cases$two_variables <- list(strata = s1, errors = e1, n = run(s1, e1))

# 2. A small, highly variable stratum becomes take-all.
s2 <- s1
s2$N <- c(2000, 1500, 3000, 40)
s2$S1 <- c(4, 6, 3, 200)
e2 <- data.frame(DOM = "DOM1", CV1 = 0.01, CV2 = 0.02, domainvalue = 1)
out$cases$take_all <- list(strata = s2, errors = e2, n = run(s2, e2))

# 3. Thirty strata, three variables, two domains (each stratum in one of three regions):
#    one CV per variable for the overall total and for every region's total.
set.seed(20261122)
H <- 30
s3 <- data.frame(STRATO = 1:H, N = round(runif(H, 200, 5000)),
                 M1 = runif(H, 5, 50), M2 = runif(H, 100, 1000), M3 = runif(H, 0.1, 0.9),
                 S1 = runif(H, 1, 20), S2 = runif(H, 20, 400), S3 = runif(H, 0.2, 0.5),
                 COST = round(runif(H, 1, 5), 2), CENS = 0,
                 DOM1 = 1, DOM2 = rep(1:3, length.out = H))
e3 <- data.frame(DOM = c("DOM1", "DOM2"), CV1 = c(0.01, 0.03), CV2 = c(0.015, 0.04),
                 CV3 = c(0.02, 0.05), domainvalue = c(1, 1))
out$cases$two_domains <- list(strata = s3, errors = e3, n = run(s3, e3))

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/sampling/allocation/reference/allocation_bethel.json")
