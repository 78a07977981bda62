"""Prose notes on how balance 0.23.0 computes ASMD, IPW, CBPS and rake.

Written from reading balance's source in the venv (site-packages/balance/...) and checked
numerically by balance_reference.py (see the `check_*` keys in balance_reference.json).
This describes formulas in our own words; no balance code is reproduced.
"""

NOTES = {
    "asmd_formula": (
        "For each model-matrix column c: ASMD_c = |m_S(c) - m_T(c)| / sd_T(c). "
        "m_X(c) = sum_i w_i x_ic / sum_i w_i (weighted mean with that frame's own weights; "
        "all-1 weights when the Sample has no weight column). "
        "Default denominator (std_type='target', the only one used by Sample.covars().asmd()) is the TARGET's "
        "weighted sd computed with the TARGET's weights. Weighted variance = 'reliability weights' unbiased form: "
        "var = V1/(V1^2 - V2) * sum_i w_i (x_i - m)^2, with V1 = sum w_i, V2 = sum w_i^2; sd = sqrt(var). "
        "With all-equal weights this is the ordinary n-1 sample variance, and it is invariant to rescaling the "
        "weights (so a constant ref_weight = N/n gives the same result as no weights). "
        "Options of the bare function weighted_comparisons_stats.asmd: std_type='sample' uses the sample's weighted "
        "sd; std_type='pooled' uses sqrt((sd_S^2 + sd_T^2)/2) (equal weight to both, not n-weighted). "
        "After adjustment, the sample side uses the adjusted weights; the target side always uses the target's own weights."
    ),
    "asmd_encoding": (
        "Sample.covars().asmd() builds a model matrix SEPARATELY for the sample and for the target "
        "(BalanceDF.model_matrix -> balance.util.model_matrix(df, add_na=True)), then aligns the two results by "
        "column name (a column present in only one frame gives NaN). Encoding is patsy's, with the default "
        "formula built by joining the variable names (after replacing non-word characters by '_') sorted in "
        "REVERSE alphabetical (Python string) order, plus '- 1': NO intercept. Patsy then gives the FIRST categorical "
        "term of that formula -- i.e. the categorical covariate whose name sorts LAST alphabetically, '_is_na_...' "
        "indicators sort before lower-case letters -- full one-hot coding (one column per level, named "
        "'var[level]'); every other categorical covariate (and bool '_is_na_' column) gets treatment (drop-first) "
        "coding, reference = first level in sorted order, columns named 'var[T.level]'. This does NOT depend on the "
        "column order of the data frame. The reference level of a drop-first covariate has NO ASMD row. "
        "Columns are then sorted alphabetically. Numeric covariates enter as-is (one column, no binning, no "
        "standardisation other than the ASMD denominator). Missing values: if a covariate has NAs in the frame, "
        "non-numeric NAs become a level '_NA' (e.g. 'gender[_NA]') and numeric NAs are filled with 0, and an "
        "indicator column '_is_na_<var>' is added; the indicator columns ('_is_na_...') are DROPPED from the ASMD "
        "output, but the '_NA' level column stays as an ordinary level. For balance's load_data: gender has NaN in "
        "both sample (88/1000) and target (898/10000), gender is the first categorical term of the formula, so the rows are "
        "gender[Female], gender[Male], gender[_NA]; age_group is drop-first (18-24 is the reference, no row); income "
        "is numeric (formula 'income + gender + age_group (+ _is_na_gender) - 1'). For the opt-in data "
        "(formula 'sex + income + education + age - 1'): sex is full one-hot (sex[female], sex[male]); age is "
        "drop-first (reference 18-29: age[T.30-44], age[T.45-64], age[T.65+]); education drop-first (reference "
        "ba_plus: education[T.hs_or_less], education[T.some_college]); income numeric. So ASMD has 8 rows and "
        "mean(asmd) = (mean of 3 age rows + mean of 2 education rows + income + mean of 2 sex rows)/4."
    ),
    "asmd_mean_aggregation": (
        "'mean(asmd)' = weighted average of the per-column ASMDs where every column belonging to main covariate v "
        "(name with the '[...]' suffix stripped) gets weight 1/(number of ASMD columns of v); i.e. it equals the "
        "plain average over main covariates of the within-covariate average of level ASMDs. NaN column values count "
        "as 0 in the numerator but still count in the denominator; +-inf (zero target sd) is turned into NaN first. "
        "aggregate_by_main_covar=True returns that per-covariate average (one value per main covariate, plus "
        "'mean(asmd)' which is unchanged). Note: the number of columns of a drop-first covariate excludes its "
        "reference level (e.g. age_group has 3 columns, not 4)."
    ),
    "ipw_model_matrix": (
        "ipw (weighting_methods/ipw.py): covariates are joint columns of sample and target. NA handling "
        "(na_action='add_indicator'): NAs kept, then model_matrix on the STACKED sample+target data with add_na=True "
        "(non-numeric NA -> '_NA' level, numeric NA -> 0, plus an '_is_na_<var>' boolean column that patsy codes as "
        "'_is_na_<var>[T.True]'). With transformations=None the raw covariates are used; with the default "
        "transformations, numeric columns are cut into 10 quantile bins of the pooled sample+target values "
        "(pd.qcut, duplicates dropped) and categorical columns have levels with pooled share < 5% lumped into "
        "'_lumped_other'. Patsy coding is the same as for ASMD (one_hot_encoding=False is the default): "
        "reverse-alphabetical formula '... - 1', the alphabetically-last categorical full one-hot, the others "
        "drop-first, numeric as-is (NB: the model matrix is built after the transformations, so with default "
        "transformations the binned numeric variables are categorical too — e.g. in dataset (i) the binned income "
        "becomes the full one-hot term and gender becomes drop-first); but sklearn "
        "LogisticRegression adds its own (unpenalised, lbfgs) intercept, so the design is rank-deficient "
        "(intercept + full one-hot of one categorical; also '_NA' level duplicates the '_is_na_' column). "
        "The fitted probabilities are nevertheless those of the full-rank model "
        "intercept + drop-first dummies + numeric (checked: max relative weight difference vs a statsmodels "
        "full-rank MLE ~1e-10 for the newton-cg fit). Before fitting, each column is divided by its weighted sd "
        "(sklearn StandardScaler(with_mean=False) with sample_weight = the class weights below; population-form "
        "weighted variance, no centering); this matters only for the penalty. (For dataset (i) with transformations=None "
        "X_matrix_columns = ['_is_na_gender[T.True]', 'age_group[T.25-34]', 'age_group[T.35-44]', "
        "'age_group[T.45+]', 'gender[Female]', 'gender[Male]', 'gender[_NA]', 'income'].)"
    ),
    "ipw_class_weights": (
        "Response y = 1 for sample rows, 0 for target rows. Fitting weights: sample rows get their design weight "
        "d_i; target rows get their weight t_j multiplied by odds = sum(d)/sum(t) when balance_classes=True "
        "(default), so the target's total fitting weight EQUALS the sample's total design weight. With "
        "balance_classes=False, target rows get t_j unscaled. For an UNPENALISED fit with an intercept this "
        "constant factor only shifts the intercept and cancels in the normalised weights; it matters for the "
        "penalised (default) fits and for trimming."
    ),
    "ipw_weight_formula": (
        "With p_i = fitted P(sample | x_i) and link_i = logit(p_i) (probabilities clipped to [eps, 1-eps]): if "
        "balance_classes, link_i += log(odds); raw weight w_i = d_i * exp(-link_i) = d_i * (1-p_i)/p_i * "
        "sum(t)/sum(d). Then optional trimming (weight_trimming_mean_ratio, default 20: clip once at 20 x the mean of the untrimmed "
        "weights, then rescale so the mean (sum) is unchanged; no iteration), and finally rescaled so that sum_i w_i = "
        "sum_j t_j (total target weight). The constant factors cancel after normalisation, so without trimming the "
        "normalised weights are d_i (1-p_i)/p_i / sum_k d_k (1-p_k)/p_k. The JSON gives both the raw balance weights "
        "(sum = target total) and weights normalised to sum 1."
    ),
    "ipw_penalty": (
        "balance's ipw always fits sklearn LogisticRegression(solver='lbfgs', tol=1e-4, max_iter=5000, "
        "warm_start=True, L2 penalty) over a path of lambdas = logspace(log10(lambda_max=10), "
        "log10(lambda_min=1e-5), num_lambdas=250), with C = 1/(sum(fitting weights) * lambda). In sklearn 1.3 the "
        "lbfgs objective is sum_i s_i logloss_i + ||beta||^2/(2C), so balance's objective is equivalent to "
        "(1/sum s) sum_i s_i logloss_i + (lambda/2)||beta||^2 — a glmnet-style ridge (alpha=0) on the "
        "sd-scaled columns, intercept not penalised. penalty_factor (one value per formula term) multiplies the "
        "scaled columns of that term by 1/pf (or by 10 when pf <= 0.1), which multiplies that term's effective ridge "
        "strength by pf^2 (not pf as in glmnet); a penalty factor of 0 is NOT an unpenalised term (it gives 1/100 of "
        "the penalty). There is no option that turns "
        "the built-in penalty off. Ways to get (near) ML: (1) pass model=LogisticRegression(penalty=None, ...) — the "
        "custom-estimator path fits once on the unscaled model matrix with the same class weights and no lambda "
        "path (used here with solver='newton-cg', tol=1e-14: matches an independent statsmodels MLE to ~1e-10 "
        "relative; with lbfgs it stops early, ~1e-2 relative error); (2) num_lambdas=1, lambda_max=lambda_min=1e-8: "
        "the single lambda is lambda_max; penalty is negligible but balance's fixed lbfgs tol=1e-4 limits accuracy "
        "(~1e-4 relative error in weights). Both also need transformations=None and weight_trimming_mean_ratio=None "
        "(max_de=None is the default)."
    ),
    "ipw_cv": (
        "Default ipw (max_de=None): for each lambda in the path (from largest to smallest) fit on all data; stop "
        "early once coefficients are non-zero and the proportion of deviance explained improves by < 1e-5 over "
        "the previous lambda. For each lambda kept, 10-fold CV: fold ids = np.resize(range(10), n_sample+n_target) "
        "shuffled by np.random after np.random.seed(random_seed=2020); the same warm-started LogisticRegression "
        "object is refitted on each training fold, and the holdout deviance = 2 * weighted mean log-loss "
        "(sklearn log_loss with the fitting weights) is computed. cv mean = mean over folds, cv se = sd(ddof=1)/sqrt(10). "
        "Choice = 'lambda.1se' rule: the LARGEST lambda whose cv mean deviance < min cv mean + its se. The final "
        "weights come from the full-data fit at that lambda, then trimming at 20x mean, then normalisation. "
        "If max_de is given, CV is skipped and choose_regularization grid-searches lambda x trimming for the best "
        "ASMD reduction subject to design effect <= max_de."
    ),
    "cbps": (
        "cbps (default cbps_method='over'): same default transformations and patsy coding as ipw; model matrix "
        "columns centred and divided by their (unweighted, population) sd, constant columns dropped, an intercept "
        "column added, then SVD with singular values <= 1e-10 dropped (handles rank deficiency). Target is modelled "
        "as the 'treated' group (in_pop). With balance_classes=True the design weights are (n_s+n_t)/2 * d_i/sum(d) "
        "for sample and (n_s+n_t)/2 * t_j/sum(t) for target. Start: weighted binomial GLM (statsmodels), rescaled by "
        "alpha in [0.8, 1.1]; then minimise the balance loss and the over-identified GMM loss (Imai & Ratkovic 2014) "
        "with scipy COBYLA from both starting points, keep the lower GMM loss. Sample weights = design weight x |pseudo "
        "weight| from the truncated-logit probabilities, trimmed at 20x mean, normalised to sum(t)."
    ),
    "rake": (
        "rake (defaults): transformations='default' -> income cut into 10 quantile bins of the pooled "
        "sample+target incomes (pd.qcut, duplicates='drop'; the bin edges are recorded in the JSON) and categorical "
        "levels with pooled share < 5% lumped. Then iterative proportional fitting over the variables in alphabetical "
        "order on the sample's weighted cross-classified table; target margins are the target's weighted level "
        "shares scaled to the sample weight total; max_iteration=1000, convergence_rate=0.0005, rate_tolerance=1e-8; "
        "no trimming by default; final weights scaled to the target weight total."
    ),
    "design_effect": (
        "Kish design effect as balance computes it: mean(w^2) / mean(w)^2 = n * sum(w^2) / (sum w)^2, on the "
        "adjusted sample weights."
    ),
    "sample_from_frame": (
        "Sample.from_frame with no weight_column adds weight = 1 for all rows. Ids are converted to strings "
        "internally (JSON stores them back as ints where possible). In the adjusted Sample the active weight column "
        "keeps its original name (e.g. 'dw', 'sample_weight')."
    ),
}
