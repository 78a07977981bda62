/*
 * Compiled kernel of the allocation core: the budget problem with phi = identity.
 *
 *   minimise   sum_g w_g (a_g n_g^(-b_g) + c_g)
 *   subject to sum_g k_g n_g <= B,  lo_g <= n_g <= hi_g.
 *
 * This is a line-for-line C version of the binding case of sampling/allocation/_core.py:
 * _solve_budget_identity -> _safeguarded_newton -> _trim_to_budget -> _kkt_identity
 * (read the docstrings there for the mathematics), with one difference: it aims (G + 4) eps
 * below the budget, so that any float sum of k n (numpy's dot included) is within the budget
 * and the plan needs no trim against numpy's summation order (see budget_identity). The
 * Python version stays the reference and the fallback;
 * tests/sampling/allocation/test_budget_kernel.py checks that both agree to rounding on random
 * and edge-case instances. Arrays are passed through the buffer protocol (no numpy headers): six
 * read-only float64 vectors, one float64 output vector (n) and two bool output vectors
 * (at_lower, at_upper). Returns (t, iterations, kkt_residual) with lambda = e^t. The caller has
 * checked that the budget binds strictly inside the box, costs @ lo < B < costs @ hi, with numpy's
 * sums so that the decision is the one users see (see _solve_budget_identity_kernel); the two
 * edge cases (every group at its cap; exactly the lower bounds) stay with the numpy code.
 *
 * A group may be uncapped (hi = +inf). Inputs are validated by the Python layer (finite,
 * positive a, b, w, k, lo; lo <= hi).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <float.h>
#include <math.h>
#include <stdbool.h>

#define EPS DBL_EPSILON
#define MAX_ITER 200

static int
get_vector(PyObject *obj, Py_buffer *view, bool writable, char code, Py_ssize_t itemsize,
           Py_ssize_t size, const char *name)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: expected a contiguous%s array", name,
                     writable ? " writable" : "");
        return -1;
    }
    const char *fmt = view->format ? view->format : "B";
    if (*fmt == '@' || *fmt == '=' || *fmt == '<') {
        fmt++;
    }
    if (view->ndim != 1 || view->itemsize != itemsize || fmt[0] != code || fmt[1] != '\0' ||
        (size >= 0 && view->shape[0] != size)) {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_TypeError, "%s: expected a 1-d array of '%c' with %zd items", name,
                     code, size);
        return -1;
    }
    return 0;
}

static double
dot(const double *x, const double *y, Py_ssize_t G)
{
    double s = 0.0;
    for (Py_ssize_t g = 0; g < G; g++) {
        s += x[g] * y[g];
    }
    return s;
}

/* Remove a rounding-level overspend (<= 1e-12 B) from the free groups, largest spend first
 * (see _trim_to_budget): group j takes the largest float in [lo_j, n_j] whose float sum is within
 * budget (bisection from the exact correction); when even lo_j is not enough it stays there and
 * the next group continues. Groups are picked by a linear scan per step: one usually suffices. */
static void
trim_to_budget(double *n, const double *k, const double *lo, const double *hi, Py_ssize_t G,
               double budget)
{
    double spent = dot(k, n, G);
    if (spent <= budget || spent - budget > 1e-12 * budget) {
        return;
    }
    double last = INFINITY; /* spend of the previous group: take the groups in decreasing order */
    Py_ssize_t last_j = -1;
    for (;;) {
        Py_ssize_t j = -1;
        double best = -INFINITY;
        for (Py_ssize_t g = 0; g < G; g++) {
            double s = k[g] * n[g];
            bool after = s < last || (s == last && g > last_j);
            if (n[g] > lo[g] && n[g] < hi[g] && after && s > best) {
                best = s;
                j = g;
            }
        }
        if (j < 0) {
            return;
        }
        last = best;
        last_j = j;
        double top = n[j];
        double guess = (budget - (spent - k[j] * top)) / k[j];
        n[j] = lo[j];
        spent = dot(k, n, G);
        if (spent > budget) {
            continue;
        }
        double bottom = lo[j];
        double x = (lo[j] < guess && guess < top) ? guess : 0.5 * (bottom + top);
        while (bottom < x && x < top) {
            n[j] = x;
            if (dot(k, n, G) <= budget) {
                bottom = x;
            }
            else {
                top = x;
            }
            x = bottom + 0.5 * (top - bottom);
        }
        n[j] = bottom;
        return;
    }
}

/* Root of S(t) = sum_g k_g clip(exp(e_g (L_g - t)), lo_g, hi_g) = B on [tl, tr] by the
 * safeguarded Newton iteration on log S (see _safeguarded_newton). Writes n(t) into n. */
static double
safeguarded_newton(const double *e, const double *eL, const double *k, const double *lo,
                   const double *hi, Py_ssize_t G, double budget, double tl, double tr,
                   double *n, int *iterations)
{
    double esum = 0.0, s0 = 0.0;
    for (Py_ssize_t g = 0; g < G; g++) {
        esum += e[g];
        s0 += k[g] * exp(eL[g]);
    }
    double t = log(s0 / budget) / (esum / (double)G);
    if (!(tl < t && t < tr)) {
        t = isfinite(tl) ? 0.5 * (tl + tr) : tr - 1.0;
    }
    double dx_old = tr - tl;
    double step = 1.0;
    int it = 0;
    for (it = 1; it <= MAX_ITER; it++) {
        double spent = 0.0, ds = 0.0;
        for (Py_ssize_t g = 0; g < G; g++) {
            double x = exp(eL[g] + e[g] * (-t));
            double v = x < lo[g] ? lo[g] : x;
            v = v > hi[g] ? hi[g] : v;
            n[g] = v;
            spent += k[g] * v;
            if (v == x) {
                ds -= k[g] * e[g] * v;
            }
        }
        double gap = spent - budget;
        if (fabs(gap) <= 2 * EPS * budget) {
            break;
        }
        if (gap > 0) {
            tl = t;
        }
        else {
            tr = t;
        }
        double t_new = ds < 0 ? t - log(spent / budget) * spent / ds : NAN;
        if (!(tl < t_new && t_new < tr) || fabs(t_new - t) > 0.5 * fabs(dx_old)) {
            if (isfinite(tl)) {
                t_new = 0.5 * (tl + tr);
            }
            else {
                step *= 2.0;
                t_new = tr - step;
            }
        }
        dx_old = t_new - t;
        if (t_new == t || tr - tl <= 2 * EPS * fmax(1.0, fabs(t))) {
            break;
        }
        t = t_new;
    }
    *iterations = it > MAX_ITER ? MAX_ITER : it;
    return t;
}

static PyObject *
budget_identity(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs)
{
    static const char *names[] = {"a", "b", "w", "costs", "lo", "hi", "n", "at_lower",
                                  "at_upper"};
    if (nargs != 10) {
        PyErr_SetString(PyExc_TypeError,
                        "budget_identity(a, b, w, costs, lo, hi, n, at_lower, at_upper, budget)");
        return NULL;
    }
    double budget = PyFloat_AsDouble(args[9]);
    if (budget == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    Py_buffer views[9];
    int held = 0;
    Py_ssize_t G = -1;
    PyObject *result = NULL;
    double *work = NULL;
    for (; held < 9; held++) {
        bool out = held >= 6;
        char code = held >= 7 ? '?' : 'd';
        Py_ssize_t itemsize = held >= 7 ? 1 : 8;
        if (get_vector(args[held], &views[held], out, code, itemsize, G, names[held]) < 0) {
            goto done;
        }
        G = views[held].shape[0];
    }
    if (G < 1) {
        PyErr_SetString(PyExc_TypeError, "budget_identity: empty arrays");
        goto done;
    }
    const double *a = views[0].buf, *b = views[1].buf, *w = views[2].buf, *k = views[3].buf;
    const double *lo = views[4].buf, *hi = views[5].buf;
    double *n = views[6].buf;
    bool *at_lo = views[7].buf, *at_hi = views[8].buf;

    work = PyMem_Malloc(sizeof(double) * 6 * (size_t)G);
    if (work == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    double *bp1 = work, *e = work + G, *L = work + 2 * G, *eL = work + 3 * G;
    double *log_lo = work + 4 * G, *log_hi = work + 5 * G;
    double t_right = -INFINITY, t_left = INFINITY;
    for (Py_ssize_t g = 0; g < G; g++) {
        bp1[g] = b[g] + 1.0;
        e[g] = 1.0 / bp1[g];
        L[g] = log(w[g] * a[g] * b[g] / k[g]);
        eL[g] = e[g] * L[g];
        log_lo[g] = log(lo[g]);
        log_hi[g] = log(hi[g]);
        t_right = fmax(t_right, L[g] - bp1[g] * log_lo[g]);
        t_left = fmin(t_left, L[g] - bp1[g] * log_hi[g]);
    }
    /* Aim (G + 4) eps below the budget. A float sum of G positive terms k_g n_g, in any order
     * and with or without fused multiply-adds, is within gamma_G = G u / (1 - G u) (u = eps / 2)
     * of the exact sum, so two such sums differ by at most about G eps of it: once this
     * kernel's sequential sum is within the target, numpy's dot (whatever its summation order)
     * is within the budget, and the Python layer has nothing to trim. */
    double target = budget * (1.0 - (double)(G + 4) * EPS);
    int iterations = 0;
    double t = safeguarded_newton(e, eL, k, lo, hi, G, target, t_left, t_right, n, &iterations);
    trim_to_budget(n, k, lo, hi, G, target);
    /* KKT residual at lambda = e^t (see _kkt_identity) */
    double res = 0.0, box = -INFINITY;
    for (Py_ssize_t g = 0; g < G; g++) {
        double log_n = log(n[g]);
        at_lo[g] = log_n <= log_lo[g];
        at_hi[g] = log_n >= log_hi[g];
        double gap = exp((L[g] - t) - bp1[g] * log_n) - 1.0;
        double r = fmax(at_hi[g] ? 0.0 : gap, at_lo[g] ? 0.0 : -gap);
        res = fmax(res, r);
        box = fmax(box, fmax(log_lo[g] - log_n, log_n - log_hi[g]));
    }
    double spent = dot(k, n, G);
    res = fmax(fmax(res, fabs(spent - budget) / budget), box);
    result = Py_BuildValue("(did)", t, iterations, res);

done:
    PyMem_Free(work);
    for (int i = 0; i < held; i++) {
        PyBuffer_Release(&views[i]);
    }
    return result;
}

static PyMethodDef methods[] = {
    {"budget_identity", (PyCFunction)(void (*)(void))budget_identity, METH_FASTCALL,
     "budget_identity(a, b, w, costs, lo, hi, n, at_lower, at_upper, budget) -> "
     "(t, iterations, kkt_residual)\n\n"
     "The budget problem with identity phi (see sampling.allocation._core)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_budget_kernel",
    .m_doc = "Compiled kernel of sampling.allocation._core (budget problem, identity phi).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__budget_kernel(void)
{
    return PyModule_Create(&module);
}
