# Reference fits for tests/sampling/allocation/test_learning_curves.py: base R nls (port algorithm, bounds)
# of log(err) = log(a n^-b + c) on deterministic pilot data with a fixed noise pattern.
# Run: Rscript tests/sampling/allocation/reference/allocation_learning_curves.R
library(jsonlite)
make <- function(a, b, c, amp, phase) {
  n <- rep(c(25, 50, 100, 200, 400, 800, 1600), each = 2)
  noise <- amp * sin(seq_along(n) * 1.7 + phase)
  data.frame(n = n, error = (a * n^(-b) + c) * exp(noise))
}
groups <- list(
  g1 = make(2.0, 0.5, 0.05, 0.03, 0.0),
  g2 = make(1.0, 0.3, 0.10, 0.02, 1.0),
  g3 = make(5.0, 0.8, 0.02, 0.05, 2.0)
)
out <- list(versions = list(R = R.version.string), groups = list())
for (g in names(groups)) {
  d <- groups[[g]]
  fit <- nls(log(error) ~ log(exp(la) * n^(-b) + c), data = d,
             start = list(la = log(1), b = 0.5, c = 0.5 * min(d$error)),
             algorithm = "port", lower = c(-Inf, 1e-8, 0), upper = c(Inf, 10, max(d$error)),
             control = nls.control(maxiter = 1000, tol = 1e-12, scaleOffset = 1))
  co <- summary(fit)$coefficients
  out$groups[[g]] <- list(n = d$n, error = d$error,
                          a = exp(co["la", 1]), b = co["b", 1], c = co["c", 1],
                          se_log_a = co["la", 2], se_b = co["b", 2], se_c = co["c", 2],
                          residual_scale = summary(fit)$sigma)
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/sampling/allocation/reference/allocation_learning_curves.json")
