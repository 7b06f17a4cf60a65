/*
 * diff.c - `gtrace diff A.json B.json`: two --json reports side by side.
 *
 * Every figure of A's and B's "summary" objects is shown with B/A; rates
 * are also shown per second (each run's own duration) and, when both runs
 * were made with --per, per request, which is the comparison that makes
 * sense between a goroutine server and a thread-per-connection one
 * serving the same load.  Then the system calls, by name, largest first.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "gtrace_cli.h"

/* The report of a `--json -i` file (JSON lines): its last line, the
 * object whose "type" is "report"; NULL if there is none. */
static json_t *last_report(const char *path)
{
	FILE *f = fopen(path, "re");
	json_t *found = NULL;
	json_error_t e;
	if (!f)
		return NULL;
	for (;;) {
		json_t *j = json_loadf(f, JSON_DISABLE_EOF_CHECK, &e);
		if (!j)
			break;
		const char *t = json_string_value(json_object_get(j, "type"));
		if (t && !strcmp(t, "report")) {
			json_decref(found);
			found = j;
		} else {
			json_decref(j);
		}
	}
	fclose(f);
	return found;
}

static json_t *load(const char *path)
{
	json_error_t e;
	json_t *j = json_load_file(path, 0, &e);
	if (!j)
		j = last_report(path);
	if (!j) {
		gt_err("cannot read %s: %s (line %d): give a file written by gtrace --json", path, e.text, e.line);
		return NULL;
	}
	json_t *v = json_object_get(j, "version");
	/* versions 2 to 5 only added members (3 also counts the children
	 * into the figures): diff reads them all alike */
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > GT_JSON_VERSION ||
	    !json_is_object(json_object_get(j, "summary"))) {
		gt_err("%s is not a gtrace report of schema version 1 to %d: rerun gtrace --json with this gtrace",
		       path, GT_JSON_VERSION);
		json_decref(j);
		return NULL;
	}
	return j;
}

static double num(json_t *o, const char *key, bool *present)
{
	json_t *v = json_object_get(o, key);
	if (present)
		*present = v != NULL;
	return json_is_number(v) ? json_number_value(v) : 0;
}

static void ratio(char *buf, double a, double b)
{
	if (a == 0 && b == 0)
		snprintf(buf, 32, "=");
	else if (a == 0)
		snprintf(buf, 32, "new");
	else
		snprintf(buf, 32, "x%.2f", b / a);
}

static const char *fmt(const char *key, double v, char *buf)
{
	size_t n = strlen(key);
	if (n > 3 && !strcmp(key + n - 3, "_ns"))
		return gt_fmt_ns(v, buf);
	if (v != floor(v)) {
		snprintf(buf, 32, "%.3g", v);
		return buf;
	}
	return gt_fmt_num(v, buf);
}

int gt_diff_main(const struct gt_opts *o)
{
	json_t *A = load(o->diff_a), *B = A ? load(o->diff_b) : NULL;
	char a[32], b[32], r[32], pa[32], pb[32];
	if (!A || !B) {
		json_decref(A);
		return 1;
	}
	json_t *sa = json_object_get(A, "summary"), *sb = json_object_get(B, "summary");
	double da = num(A, "duration_s", NULL), db = num(B, "duration_s", NULL);
	double qa = num(A, "per", NULL), qb = num(B, "per", NULL);
	bool per = qa > 0 && qb > 0;

	printf("A: %s (pid %d, %.2f s)\nB: %s (pid %d, %.2f s)\n\n", o->diff_a,
	       (int)num(json_object_get(A, "target"), "pid", NULL), da, o->diff_b,
	       (int)num(json_object_get(B, "target"), "pid", NULL), db);
	printf("%-34s %14s %14s %8s", "FIGURE", "A", "B", "B/A");
	if (per)
		printf(" %12s %12s %8s", "A /req", "B /req", "B/A");
	printf("\n");

	/* keys of A in order, then keys only B has */
	for (int pass = 0; pass < 2; pass++) {
		const char *key;
		json_t *v;
		json_object_foreach(pass ? sb : sa, key, v) {
			bool ina, inb;
			double x = num(sa, key, &ina), y = num(sb, key, &inb);
			if (pass && ina)
				continue;
			if (x == 0 && y == 0)
				continue;
			ratio(r, x, y);
			printf("%-34s %14s %14s %8s", key, fmt(key, x, a), fmt(key, y, b), r);
			if (per && !strstr(key, "threads") && !strstr(key, "avg")) {
				ratio(r, x / qa, y / qb);
				if (strstr(key, "_ns"))
					printf(" %12s %12s %8s", gt_fmt_ns(x / qa, pa), gt_fmt_ns(y / qb, pb), r);
				else
					printf(" %12.3f %12.3f %8s", x / qa, y / qb, r);
			}
			printf("\n");
		}
	}

	printf("\n%-22s %14s %14s %8s\n", "SYSCALL", "A", "B", "B/A");
	json_t *ya = json_object_get(A, "syscalls"), *yb = json_object_get(B, "syscalls");
	for (int pass = 0; pass < 2; pass++) {
		size_t i;
		json_t *e;
		json_array_foreach(pass ? yb : ya, i, e) {
			const char *name = json_string_value(json_object_get(e, "name"));
			if (!name)
				continue;
			double x = 0, y = 0;
			bool ina = false;
			size_t j;
			json_t *f;
			json_array_foreach(ya, j, f)
				if (!strcmp(name, json_string_value(json_object_get(f, "name")) ?: "")) {
					x = num(f, "count", NULL);
					ina = true;
				}
			if (pass && ina)
				continue;
			json_array_foreach(yb, j, f)
				if (!strcmp(name, json_string_value(json_object_get(f, "name")) ?: ""))
					y = num(f, "count", NULL);
			ratio(r, x, y);
			printf("%-22s %14s %14s %8s\n", name, gt_fmt_num(x, a), gt_fmt_num(y, b), r);
		}
	}
	json_decref(A);
	json_decref(B);
	return 0;
}
