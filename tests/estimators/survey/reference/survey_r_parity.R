# Outside truth for equisample's R-survey parity features (survey 4.1-1 man pages and tests).
#
# Run from the repository root:  Rscript tests/estimators/survey/reference/survey_r_parity.R
# Reads the api tables written by variance_api.R (variance_apistrat.csv, variance_apiclus1.csv),
# writes survey_fpc.csv (R's `fpc` data) and survey_r_parity.json: one entry per case with R's
# call and its values. CI never runs R; it reads the JSON.
suppressPackageStartupMessages({
  library(survey)
  library(jsonlite)
})
out_dir <- "tests/estimators/survey/reference"
data(fpc)
write.csv(fpc, file.path(out_dir, "survey_fpc.csv"), row.names = FALSE)
strat <- read.csv(file.path(out_dir, "variance_apistrat.csv"), stringsAsFactors = TRUE)
clus <- read.csv(file.path(out_dir, "variance_apiclus1.csv"), stringsAsFactors = TRUE)

cases <- list()
put <- function(name, call, values = list(), ...) {
  cases[[name]] <<- c(list(r_call = call), values, list(...))
}
stat_ci <- function(s, df = Inf) {
  ci <- confint(s, df = df)
  list(estimate = unname(as.numeric(coef(s))), se = unname(as.numeric(SE(s))),
       ci_lower = unname(ci[, 1]), ci_upper = unname(ci[, 2]))
}

# -- weights implied by fpc (man/fpc.Rd) ----------------------------------------------------------
fpc_designs <- list(
  weights_no_fpc = svydesign(weights = ~weight, ids = ~psuid, strata = ~stratid, variables = ~x,
                             data = fpc, nest = TRUE),
  weights_fpc = svydesign(weights = ~weight, ids = ~psuid, strata = ~stratid, fpc = ~Nh,
                          variables = ~x, data = fpc, nest = TRUE),
  fpc_population_only = svydesign(ids = ~psuid, strata = ~stratid, fpc = ~Nh, variables = ~x,
                                  data = fpc, nest = TRUE),
  fpc_fraction_only = svydesign(ids = ~psuid, strata = ~stratid, fpc = ~I(nh / Nh),
                                variables = ~x, data = fpc, nest = TRUE)
)
for (nm in names(fpc_designs)) {
  d <- fpc_designs[[nm]]
  m <- svymean(~x, d)
  put(paste0("fpc/", nm), deparse(d$call), weights = unname(weights(d)),
      estimate = unname(coef(m)), se = unname(SE(m)))
}

# -- degrees of freedom and t intervals --------------------------------------------------------------
dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = strat, fpc = ~fpc)
dclus1 <- svydesign(id = ~dnum, weights = ~pw, data = clus, fpc = ~fpc)
rclus1 <- as.svrepdesign(dclus1, type = "JK1")
rstrat <- as.svrepdesign(dstrat, type = "JKn")
designs <- list(strat = dstrat, clus1 = dclus1, clus1_jk1 = rclus1, strat_jkn = rstrat)
for (nm in names(designs)) {
  d <- designs[[nm]]
  df <- degf(d)
  put(paste0("df/", nm, "/degf"), "degf(design)", degf = df)
  put(paste0("df/", nm, "/mean_api00"), "confint(svymean(~api00, d), df = degf(d))",
      c(stat_ci(svymean(~api00, d), df), list(df = df)))
  put(paste0("df/", nm, "/total_enroll"), "confint(svytotal(~enroll, d), df = degf(d))",
      c(stat_ci(svytotal(~enroll, d), df), list(df = df)))
  put(paste0("df/", nm, "/ratio_api00_api99"),
      "confint(svyratio(~api00, ~api99, d), df = degf(d))",
      c(stat_ci(svyratio(~api00, ~api99, d), df), list(df = df)))
  put(paste0("df/", nm, "/proportion_stype"), "confint(svymean(~stype, d), df = degf(d))",
      c(stat_ci(svymean(~stype, d), df), list(df = df)))
  b <- svyby(~api00, ~stype, d, svymean)
  put(paste0("df/", nm, "/by_stype_mean_api00"), "confint(svyby(~api00, ~stype, d, svymean), df = degf(d))",
      c(stat_ci(b, df), list(df = df, levels = as.character(b$stype))))
  # each domain's own degrees of freedom: degf of the subset design
  put(paste0("df/", nm, "/by_stype_degf"), "sapply(levels, function(l) degf(subset(d, stype == l)))",
      levels = levels(strat$stype),
      degf = unname(sapply(levels(strat$stype), function(l) degf(subset(d, stype == l)))))
  # the SE is (upper - lower) / (2 t_df) of the Woodruff interval, with df each domain's
  q <- svyby(~api00, ~stype, d, svyquantile, quantiles = 0.5, ci = TRUE, keep.var = TRUE)
  put(paste0("df/", nm, "/by_stype_quantile_api00"),
      "svyby(~api00, ~stype, d, svyquantile, quantiles = 0.5, ci = TRUE)",
      levels = as.character(q$stype), estimate = unname(q[, 2]), se = unname(q[, 3]))
}

# -- lonely PSUs (tests/lonely.psu.R) ------------------------------------------------------------
lonely_designs <- list(
  no_fpc = svydesign(id = ~1, weights = ~pw, strata = ~dnum, data = clus),
  fpc = svydesign(id = ~1, weights = ~pw, strata = ~dnum, data = clus,
                  fpc = ifelse(clus$dnum == 413, 1, 1000))
)
for (opt in c("adjust", "average", "certainty", "remove")) {
  options(survey.lonely.psu = opt)
  for (nm in names(lonely_designs)) {
    d <- lonely_designs[[nm]]
    m <- svymean(~api00, d)
    put(paste0("lonely/", opt, "/", nm, "/taylor"), "svymean(~api00, d)",
        estimate = unname(coef(m)), se = unname(SE(m)))
    m <- svymean(~api00, as.svrepdesign(d))
    put(paste0("lonely/", opt, "/", nm, "/jkn"), "svymean(~api00, as.svrepdesign(d))",
        estimate = unname(coef(m)), se = unname(SE(m)))
  }
}
# a domain with one PSU left in a stratum of two: ds[-31, ], without and with
# survey.adjust.domain.lonely
sub413 <- clus[clus$dnum != 413, ]
for (adjust_domain in c(FALSE, TRUE)) {
  options(survey.adjust.domain.lonely = adjust_domain)
  for (opt in c("adjust", "average", "certainty", "remove")) {
    options(survey.lonely.psu = opt)
    ds <- svydesign(id = ~1, weights = ~pw, strata = ~dnum, data = sub413)
    m <- suppressWarnings(svymean(~api00, ds[-31, ]))
    put(paste0("lonely_domain/", opt, "/", adjust_domain), "svymean(~api00, ds[-31, ])",
        dropped_row = 31, estimate = unname(coef(m)), se = unname(SE(m)))
  }
}
options(survey.lonely.psu = "fail", survey.adjust.domain.lonely = FALSE)

# -- svyciprop (man/svyciprop.Rd) ------------------------------------------------------------------
data(api)
write.csv(apiclus1[, c("dnum", "snum", "stype", "fpc", "pw", "ell", "emer")],
          file.path(out_dir, "survey_apiclus1.csv"), row.names = FALSE)
cp <- read.csv(file.path(out_dir, "survey_apiclus1.csv"), stringsAsFactors = TRUE)
cp$ell0 <- as.numeric(cp$ell == 0)
cp$emer0 <- as.numeric(cp$emer == 0)
dcp <- svydesign(id = ~dnum, fpc = ~fpc, data = cp)   # weights implied by fpc
rcp <- as.svrepdesign(dcp)
ciprop <- function(r) list(estimate = unname(as.numeric(r)), se = unname(sqrt(attr(r, "var"))),
                           ci_lower = unname(attr(r, "ci")[1]), ci_upper = unname(attr(r, "ci")[2]))
for (m in c("logit", "likelihood", "asin", "beta", "mean", "xlogit")) {
  put(paste0("ciprop/taylor/", m), sprintf("svyciprop(~I(ell==0), dclus1, method='%s')", m),
      ciprop(svyciprop(~ell0, dcp, method = m)))
  put(paste0("ciprop/jk1/", m), sprintf("svyciprop(~I(emer==0), rclus1, method='%s')", m),
      ciprop(svyciprop(~emer0, rcp, method = m)))
  b <- svyby(~ell0, ~stype, dcp, svyciprop, method = m, vartype = c("se", "ci"))
  put(paste0("ciprop/by_stype/", m), sprintf("svyby(~I(ell==0), ~stype, dclus1, svyciprop, method='%s')", m),
      list(levels = as.character(b$stype), estimate = unname(b[, 2]), se = unname(b$se),
           ci_lower = unname(b$ci_l), ci_upper = unname(b$ci_u)))
}

# -- svyvar ---------------------------------------------------------------------------------------
vdesigns <- list(clus1 = dclus1, strat = dstrat, clus1_jk1 = rclus1, strat_jkn = rstrat)
for (nm in names(vdesigns)) {
  d <- vdesigns[[nm]]
  v <- svyvar(~api00, d)
  put(paste0("svyvar/", nm), "svyvar(~api00, d)",
      estimate = unname(as.numeric(coef(v))), se = unname(as.numeric(SE(v))))
  b <- svyby(~api00, ~stype, d, svyvar)
  put(paste0("svyvar/", nm, "/by_stype"), "svyby(~api00, ~stype, d, svyvar)",
      levels = as.character(b$stype), estimate = unname(b[, 2]), se = unname(b[, 3]))
}

for (nm in names(vdesigns)) {
  v <- svyvar(~api00 + api99, vdesigns[[nm]])
  put(paste0("svyvar/", nm, "/matrix"), "svyvar(~api00+api99, d)",
      estimate = unname(as.vector(as.matrix(v))), covariance = unname(as.matrix(vcov(v))))
}

# -- svycontrast (man/svycontrast.Rd) ----------------------------------------------------------------
a <- svytotal(~api00 + enroll + api99, dclus1)
lin <- svycontrast(a, list(avg = c(0.5, 0, 0.5), diff = c(1, 0, -1)))
put("contrast/linear", "svycontrast(svytotal(~api00+enroll+api99, dclus1), list(avg=c(0.5,0,0.5), diff=c(1,0,-1)))",
    estimate = unname(coef(lin)), se = unname(SE(lin)))
nl <- svycontrast(a, quote(api00 / api99))
put("contrast/ratio", "svycontrast(a, quote(api00/api99))",
    estimate = unname(coef(nl)), se = unname(SE(nl)))
clus$log_api00 <- log(clus$api00)
clus$log_api99 <- log(clus$api99)
dclus1l <- svydesign(id = ~dnum, weights = ~pw, data = clus, fpc = ~fpc)
for (nm in c("taylor", "jk1")) {
  d <- if (nm == "taylor") dclus1l else as.svrepdesign(dclus1l)
  meanlogs <- svymean(~log_api00 + log_api99, d)
  g <- svycontrast(meanlogs, list(api00 = quote(exp(log_api00)), api99 = quote(exp(log_api99))))
  put(paste0("contrast/geometric_means/", nm), "svycontrast(meanlogs, list(api00=quote(exp(...)), api99=...))",
      estimate = unname(coef(g)), se = unname(SE(g)))
}
totals <- svyby(~enroll, ~stype, design = dclus1, svytotal, covmat = TRUE)
shares <- svycontrast(totals, list(quote(E / (E + H + M)), quote(H / (E + H + M)), quote(M / (E + H + M))))
put("contrast/by_stype_shares", "svycontrast(svyby(~enroll, ~stype, dclus1, svytotal, covmat=TRUE), list(E/total, ...))",
    estimate = unname(coef(shares)), se = unname(SE(shares)))

# -- withReplicates (man/withReplicates.Rd) --------------------------------------------------------
scd <- read.csv(file.path(out_dir, "variance_scd.csv"))
repweights <- 2 * cbind(c(1, 0, 1, 0, 1, 0), c(1, 0, 0, 1, 0, 1), c(0, 1, 1, 0, 0, 1),
                        c(0, 1, 0, 1, 1, 0))
scdrep <- svrepdesign(data = scd, type = "BRR", repweights = repweights)
wr <- withReplicates(scdrep, function(w, data) sum(w * data$alive) / sum(w * data$arrests))
put("with_replicates/scd_ratio", "withReplicates(scdrep, function(w, data) sum(w*alive)/sum(w*arrests))",
    repweights = repweights, estimate = unname(as.numeric(coef(wr))), se = unname(as.numeric(SE(wr))))
# the weighting is re-run on each replicate: a calibrated replicate design
rclus1g <- calibrate(rclus1, ~stype, c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018))
wr <- withReplicates(rclus1g, function(w, data) sum(w * data$api00) / sum(w))
put("with_replicates/calibrated_mean", "withReplicates(calibrate(as.svrepdesign(dclus1), ~stype, pop), mean api00)",
    totals = list(E = 4421, H = 755, M = 1018),
    estimate = unname(as.numeric(coef(wr))), se = unname(as.numeric(SE(wr))))

# -- svyquantile rules and interval types (man/svyquantile.Rd) ---------------------------------------
qdesigns <- list(clus1 = dclus1, strat = dstrat)
rules <- c("math", "school", "shahvaish", paste0("hf", 1:9))
for (nm in names(qdesigns)) {
  for (rule in rules) {
    for (type in c("mean", "beta", "xlogit", "asin")) {
      for (v in c("api00", "ell")) {
        q <- svyquantile(as.formula(paste0("~", v)), qdesigns[[nm]], c(0.25, 0.5, 0.75),
                         qrule = rule, interval.type = type)[[1]]
        put(paste0("quantile/", nm, "/", v, "/", rule, "/", type),
            sprintf("svyquantile(~%s, d, c(.25,.5,.75), qrule='%s', interval.type='%s')", v, rule, type),
            estimate = unname(q[, 1]), ci_lower = unname(q[, 2]), ci_upper = unname(q[, 3]),
            se = unname(q[, 4]))
      }
    }
  }
}

# -- BRR with a user Hadamard matrix (brrweights(hadamard.matrix=)) ------------------------------------
pairs <- clus[clus$dnum %in% unique(clus$dnum)[1:14], ]
districts <- unique(pairs$dnum)
# 7 strata of 2 districts each, labelled so that text order differs from pairing order
pairs$pair <- c("g", "a", "e", "c", "f", "b", "d")[
  (match(pairs$dnum, districts[order(-districts)]) - 1) %/% 2 + 1]
write.csv(pairs, file.path(out_dir, "survey_brr_pairs.csv"), row.names = FALSE)
pairs <- read.csv(file.path(out_dir, "survey_brr_pairs.csv"), stringsAsFactors = TRUE)
H8 <- survey::hadamard(7)
for (sign in c(1, -1)) {
  hm <- sign * (2 * H8 - 1)
  dp <- svydesign(id = ~dnum, strata = ~pair, weights = ~pw, data = pairs)
  rp <- as.svrepdesign(dp, type = "BRR", hadamard.matrix = hm)
  m <- svymean(~api00, rp)
  put(paste0("brr_hadamard/", sign), "svymean(~api00, as.svrepdesign(d, type='BRR', hadamard.matrix=H))",
      hadamard = hm, replicate_weights = unname(weights(rp, "analysis")),
      estimate = unname(coef(m)), se = unname(SE(m)))
}

# -- two-stage designs with a second-stage fpc (man/mu284.Rd, man/svydesign.Rd) -----------------------
data(mu284)
write.csv(mu284, file.path(out_dir, "survey_mu284.csv"), row.names = FALSE)
write.csv(apiclus2[, c("dnum", "snum", "stype", "fpc1", "fpc2", "pw", "api00", "api99", "enroll")],
          file.path(out_dir, "survey_apiclus2.csv"), row.names = FALSE)
mu <- read.csv(file.path(out_dir, "survey_mu284.csv"))
c2 <- read.csv(file.path(out_dir, "survey_apiclus2.csv"), stringsAsFactors = TRUE)
dmu284 <- svydesign(id = ~id1 + id2, fpc = ~n1 + n2, data = mu)
t <- svytotal(~y1, dmu284)
m <- svymean(~y1, dmu284)
put("multistage/mu284", "svytotal(~y1, svydesign(id=~id1+id2, fpc=~n1+n2, data=mu284))",
    weights = unname(weights(dmu284)), total = unname(coef(t)), total_se = unname(SE(t)),
    mean = unname(coef(m)), mean_se = unname(SE(m)))
dclus2 <- svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = c2)
for (v in c("api00", "enroll")) {
  m <- svymean(as.formula(paste0("~", v)), dclus2, na.rm = TRUE)
  t <- svytotal(as.formula(paste0("~", v)), dclus2, na.rm = TRUE)
  b <- svyby(as.formula(paste0("~", v)), ~stype, dclus2, svymean, na.rm = TRUE)
  put(paste0("multistage/apiclus2/", v), "svymean / svytotal / svyby on svydesign(id=~dnum+snum, fpc=~fpc1+fpc2, data=apiclus2)",
      weights = unname(weights(dclus2)), mean = unname(coef(m)), mean_se = unname(SE(m)),
      total = unname(coef(t)), total_se = unname(SE(t)),
      by_levels = as.character(b$stype), by_mean = unname(b[, 2]), by_mean_se = unname(b[, 3]))
}
r <- svyratio(~api00, ~api99, dclus2)
put("multistage/apiclus2/ratio", "svyratio(~api00, ~api99, dclus2)",
    estimate = unname(as.numeric(coef(r))), se = unname(as.numeric(SE(r))))

# -- PPS without replacement, Brewer's approximation (man/election.Rd) -----------------------------
data(election)
write.csv(election_pps[, c("County", "Bush", "Kerry", "Nader", "votes", "p")],
          file.path(out_dir, "survey_election_pps.csv"), row.names = FALSE)
ep <- read.csv(file.path(out_dir, "survey_election_pps.csv"))
dpps_br <- svydesign(id = ~1, fpc = ~p, data = ep, pps = "brewer")
t <- svytotal(~Bush + Kerry + Nader, dpps_br)
m <- svymean(~Bush + Kerry + Nader, dpps_br)
write.csv(election_jointprob, file.path(out_dir, "survey_election_jointprob.csv"), row.names = FALSE)
jp <- as.matrix(read.csv(file.path(out_dir, "survey_election_jointprob.csv")))
dimnames(jp) <- NULL
psum <- sum(election$p^2) / 40
pps_designs <- list(
  overton = svydesign(id = ~1, fpc = ~p, data = ep, pps = "overton"),
  hartley_rao = svydesign(id = ~1, fpc = ~p, data = ep, pps = HR(psum)),
  hartley_rao_yg = svydesign(id = ~1, fpc = ~p, data = ep, pps = HR(psum), variance = "YG"),
  hartley_rao_default = svydesign(id = ~1, fpc = ~p, data = ep, pps = HR()),
  joint = svydesign(id = ~1, fpc = ~p, data = ep, pps = ppsmat(jp)),
  joint_yg = svydesign(id = ~1, fpc = ~p, data = ep, pps = ppsmat(jp), variance = "YG")
)
for (nm in names(pps_designs)) {
  tp <- svytotal(~Bush + Kerry + Nader, pps_designs[[nm]])
  put(paste0("pps/", nm), "svytotal(~Bush+Kerry+Nader, svydesign(id=~1, fpc=~p, data=election_pps, pps=...))",
      psum = psum, total = unname(coef(tp)), total_covariance = unname(as.matrix(vcov(tp))))
}
put("pps/brewer", "svytotal(~Bush+Kerry+Nader, svydesign(id=~1, fpc=~p, data=election_pps, pps='brewer'))",
    weights = unname(weights(dpps_br)), total = unname(coef(t)), total_se = unname(SE(t)),
    mean = unname(coef(m)), mean_se = unname(SE(m)))

# -- svyquantile(interval.type = "score") --------------------------------------------------------------
for (nm in names(qdesigns)) {
  for (v in c("api00", "ell")) {
    q <- svyquantile(as.formula(paste0("~", v)), qdesigns[[nm]], c(0.25, 0.5, 0.75),
                     interval.type = "score")[[1]]
    put(paste0("quantile_score/", nm, "/", v),
        sprintf("svyquantile(~%s, d, c(.25,.5,.75), interval.type='score')", v),
        estimate = unname(q[, 1]), ci_lower = unname(q[, 2]), ci_upper = unname(q[, 3]),
        se = unname(q[, 4]))
  }
}

# -- replicate quantiles, interval.type = "quantile" (man/svyquantile.Rd) ----------------------------
for (rule in c("math", "school", "hf7")) {
  for (v in c("api00", "ell")) {
    q <- suppressWarnings(svyquantile(as.formula(paste0("~", v)), rclus1, c(0.25, 0.5, 0.75),
                                      interval.type = "quantile", qrule = rule))[[1]]
    put(paste0("quantile_replicates/", v, "/", rule),
        sprintf("svyquantile(~%s, rclus1, c(.25,.5,.75), interval.type='quantile', qrule='%s')", v, rule),
        estimate = unname(q[, 1]), ci_lower = unname(q[, 2]), ci_upper = unname(q[, 3]),
        se = unname(q[, 4]))
  }
}

# -- covariance between ratios (svyratio(covmat = TRUE)) ----------------------------------------------
for (nm in c("clus1", "clus1_jk1")) {
  d <- designs[[nm]]
  r <- svyratio(~api00 + api99, ~enroll + meals, d, covmat = TRUE)
  put(paste0("ratio_covariance/", nm), "svyratio(~api00+api99, ~enroll+meals, d, covmat=TRUE)",
      estimate = unname(as.vector(coef(r))), covariance = unname(as.matrix(vcov(r))))
}

out <- list(r_version = R.version.string, survey_version = as.character(packageVersion("survey")),
            cases = cases)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(out_dir, "survey_r_parity.json"))
