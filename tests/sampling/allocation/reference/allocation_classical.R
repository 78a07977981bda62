# Reference allocations for tests/sampling/allocation/test_classical_allocation.py.
# Generated with R packages built from their public CRAN sources ON THE DEVELOPER MACHINE ONLY
# (their code is not part of equisample):
#   stratallo (github:cran/stratallo, installed with R CMD INSTALL -l /tmp/c4/Rlib)
#   PracTools strAlloc() (github:cran/PracTools, R/strAlloc.R sourced as a single function)
# Run: Rscript tests/sampling/allocation/reference/allocation_classical.R /tmp/c4/Rlib /path/to/PracTools/R/strAlloc.R
args <- commandArgs(trailingOnly = TRUE)
lib <- if (length(args) >= 1) args[1] else "/tmp/c4/Rlib"
practools_src <- if (length(args) >= 2) args[2] else "/tmp/c4/strAlloc.R"
library(stratallo, lib.loc = lib)
source(practools_src)
library(jsonlite)

out <- list(versions = list(R = R.version.string,
                            stratallo = as.character(packageVersion("stratallo", lib.loc = lib)),
                            PracTools_strAlloc = "CRAN source as mirrored (github:cran/PracTools HEAD)"),
            cases = list())
add <- function(name, inputs, result) {
  out$cases[[name]] <<- list(inputs = inputs, result = result)
}

# 1. Neyman, no bounds (stratallo::opt)
N <- c(1000, 2000, 500); S <- c(10, 5, 20)
add("neyman_plain", list(N = N, S = S, n = 100), opt(n = 100, A = N * S))

# 2. Neyman with take-all (upper bounds M = N)
N <- c(100, 2000, 50); S <- c(10, 5, 40)
add("neyman_take_all", list(N = N, S = S, n = 600), opt(n = 600, A = N * S, M = N))

# 3. Box-constrained Neyman (rnabox) on stratallo's 10-stratum example population
data(pop10s_bounds_ucost)
p <- pop10s_bounds_ucost
for (n in c(1500, 2200, 3000)) {
  add(paste0("neyman_box_", n),
      list(N = p[, "N"], S = p[, "S"], m = p[, "m"], M = p[, "M"], n = n),
      opt(n = n, A = p[, "N"] * p[, "S"], m = p[, "m"], M = p[, "M"]))
}

# 4. Lower bounds only (LRNA)
add("neyman_lower", list(N = p[, "N"], S = p[, "S"], m = p[, "m"], n = 1300),
    opt(n = 1300, A = p[, "N"] * p[, "S"], m = p[, "m"]))

# 5. Cost-constrained with upper bounds (RNA with unit costs)
data(pop969s_ucost)
q <- pop969s_ucost[1:60, ]
budget <- 0.2 * sum(q[, "unit_cost"] * q[, "N"])
add("cost_upper", list(N = q[, "N"], S = q[, "S"], costs = q[, "unit_cost"], budget = budget),
    rna(total_cost = budget, A = q[, "N"] * q[, "S"], bounds = q[, "N"], unit_costs = q[, "unit_cost"]))

# 6. Minimum cost for a fixed variance of the total, with upper bounds (optcost, LRNA)
A <- q[, "N"] * q[, "S"]; A0 <- sum(q[, "N"] * q[, "S"]^2)
M <- ceiling(0.8 * q[, "N"])
V <- sum(A^2 / (0.25 * q[, "N"])) - A0
add("optcost_upper", list(N = q[, "N"], S = q[, "S"], costs = q[, "unit_cost"], M = M, V = V),
    optcost(V = V, A = A, A0 = A0, M = M, unit_costs = q[, "unit_cost"]))

# 7. PracTools strAlloc: proportional, Neyman, fixed total cost, fixed variance of the mean
Nh <- c(215, 65, 252, 50, 149, 144); Sh <- c(26787207, 10645109, 6909676, 11085034, 9817762, 44553355)
ch <- c(1400, 200, 300, 600, 450, 1000)
add("practools_prop", list(N = Nh, n = 100), strAlloc(n.tot = 100, Nh = Nh, alloc = "prop")$nh)
add("practools_neyman", list(N = Nh, S = Sh, n = 100),
    strAlloc(n.tot = 100, Nh = Nh, Sh = Sh, alloc = "neyman")$nh)
add("practools_totcost", list(N = Nh, S = Sh, costs = ch, budget = 100000),
    strAlloc(Nh = Nh, Sh = Sh, cost = 100000, ch = ch, alloc = "totcost")$nh)
add("practools_totvar", list(N = Nh, S = Sh, costs = ch, V = 2e5^2 * 1e2),
    strAlloc(Nh = Nh, Sh = Sh, V0 = 2e5^2 * 1e2, ch = ch, alloc = "totvar")$nh)

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/sampling/allocation/reference/allocation_classical.json")
