/* jget FILE QUERY: prints one value from a gtrace --json report (the
 * tests' JSON reader; no jq).  QUERY is one of
 *   summary.KEY           a summary figure (KEY may hold dots)
 *   syscall.NAME          that syscall's count (0 if absent)
 *   syscall_timed.NAME    ... the calls in its latency histogram
 *   len:MEMBER            the length of an array member
 *   sum:ARRAY:FIELD       the sum of FIELD over the objects of ARRAY
 *   bpf_ids               "prog ID... map ID...": what gtrace loaded
 *   sel:PATH:FILTERS:FIELD~A+B
 *                         over the objects of the array at PATH (dotted)
 *                         whose members match FILTERS (k=v,k=v; "-" for
 *                         none) and whose array of strings FIELD has
 *                         elements containing A, B... (in any order; "-"
 *                         for no condition): "SUM_NS SUM_COUNT MATCHES",
 *                         the sums of their "ns" and "count" members
 *   get:PATH:FILTERS:FIELD
 *                         FIELD of the one object of the array at PATH
 *                         whose members match FILTERS (exit 3 if none,
 *                         4 if several)
 *   A.B.C                 a member, through nested objects (and arrays:
 *                         threads.0.comm)
 *   float:A.B.C           a number as it is (%.9g), not rounded
 * A --json -i file is JSON lines: QUERY then applies to its last line
 * (the report), and two more queries read the intervals:
 *   isum:KEY              the sum of summary.KEY over the interval lines
 *   icount                how many interval lines there are
 * Numbers print as integers, strings as they are, null as "null",
 * booleans as true/false.  Exit 3 if the member is missing. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int print(json_t *v)
{
	if (json_is_string(v))
		printf("%s\n", json_string_value(v));
	else if (json_is_number(v))
		printf("%.0f\n", json_number_value(v));
	else if (json_is_null(v))
		printf("null\n");
	else if (json_is_boolean(v))
		printf("%s\n", json_is_true(v) ? "true" : "false");
	else
		return 3;
	return 0;
}

static json_t *syscall_entry(json_t *j, const char *name)
{
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(j, "syscalls"), i, s)
		if (!strcmp(json_string_value(json_object_get(s, "name")) ?: "", name))
			return s;
	return NULL;
}

static json_t *path_get(json_t *v, const char *q)
{
	char path[256];
	snprintf(path, sizeof(path), "%s", q);
	for (char *save, *p = strtok_r(path, ".", &save); p && v; p = strtok_r(NULL, ".", &save))
		v = json_is_array(v) ? json_array_get(v, strtoul(p, NULL, 10)) : json_object_get(v, p);
	return v;
}

/* Does member k of x print as v? */
static int member_is(json_t *x, const char *k, const char *v)
{
	json_t *m = json_object_get(x, k);
	char buf[64];
	if (json_is_string(m))
		return !strcmp(json_string_value(m), v);
	if (json_is_number(m)) {
		snprintf(buf, sizeof(buf), "%.0f", json_number_value(m));
		return !strcmp(buf, v);
	}
	if (json_is_boolean(m))
		return !strcmp(json_is_true(m) ? "true" : "false", v);
	return json_is_null(m) && !strcmp(v, "null");
}

static int frames_have(json_t *x, const char *cond)
{
	char field[64], subs[512];
	const char *t = strchr(cond, '~');
	if (!strcmp(cond, "-"))
		return 1;
	if (!t || t - cond >= (long)sizeof(field))
		return 0;
	snprintf(field, sizeof(field), "%.*s", (int)(t - cond), cond);
	snprintf(subs, sizeof(subs), "%s", t + 1);
	json_t *a = json_object_get(x, field), *e;
	for (char *save, *s = strtok_r(subs, "+", &save); s; s = strtok_r(NULL, "+", &save)) {
		size_t i;
		int found = 0;
		json_array_foreach(a, i, e)
			found |= json_is_string(e) && strstr(json_string_value(e), s) != NULL;
		if (!found)
			return 0;
	}
	return 1;
}

/* Does object x match FILTERS ("k=v,k=v", "-" for none)?  -1: malformed. */
static int matches(json_t *x, const char *filters)
{
	char f[512];
	int ok = 1;
	snprintf(f, sizeof(f), "%s", filters);
	for (char *save, *kv = strcmp(f, "-") ? strtok_r(f, ",", &save) : NULL; kv && ok;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq)
			return -1;
		*eq = 0;
		ok = member_is(x, kv, eq + 1);
	}
	return ok;
}

/* Split "PATH:FILTERS:LAST" in buf (a copy of q); 0 or 2. */
static int split3(char *buf, size_t len, const char *q, char **path, char **filters, char **last)
{
	snprintf(buf, len, "%s", q);
	*path = buf;
	if (!(*filters = strchr(buf, ':')) || !(*last = strchr(*filters + 1, ':')))
		return 2;
	*(*filters)++ = 0;
	*(*last)++ = 0;
	return 0;
}

/* get:PATH:FILTERS:FIELD (see the top) */
static int select_get(json_t *j, const char *q)
{
	char buf[1024], *path, *filters, *field;
	json_t *x, *hit = NULL;
	size_t i;
	int n = 0;
	if (split3(buf, sizeof(buf), q, &path, &filters, &field))
		return 2;
	json_array_foreach(path_get(j, path), i, x) {
		int m = matches(x, filters);
		if (m < 0)
			return 2;
		if (m && n++ == 0)
			hit = x;
	}
	if (n != 1)
		return n ? 4 : 3;
	json_t *v = json_object_get(hit, field);
	return v ? print(v) : 3;
}

/* sel:PATH:FILTERS:FIELD~A+B (see the top) */
static int select_sum(json_t *j, const char *q)
{
	char buf[1024], *path, *filters, *cond;
	if (split3(buf, sizeof(buf), q, &path, &filters, &cond))
		return 2;
	double ns = 0, count = 0;
	long matches_n = 0;
	size_t i;
	json_t *x;
	json_array_foreach(path_get(j, path), i, x) {
		int ok = matches(x, filters);
		if (ok < 0)
			return 2;
		if (!ok || !frames_have(x, cond))
			continue;
		ns += json_number_value(json_object_get(x, "ns"));
		count += json_number_value(json_object_get(x, "count"));
		matches_n++;
	}
	printf("%.0f %.0f %ld\n", ns, count, matches_n);
	return 0;
}

static int query(json_t *j, const char *q)
{
	json_t *v = NULL, *x;
	size_t i;
	if (!strncmp(q, "summary.", 8))
		return print(json_object_get(json_object_get(j, "summary"), q + 8));
	if (!strncmp(q, "syscall.", 8)) {
		v = syscall_entry(j, q + 8);
		return v ? print(json_object_get(v, "count")) : (printf("0\n"), 0);
	}
	if (!strncmp(q, "syscall_timed.", 14)) {
		double n = 0;
		json_array_foreach(json_object_get(syscall_entry(j, q + 14), "hist_log2_ns"), i, x)
			n += json_number_value(x);
		printf("%.0f\n", n);
		return 0;
	}
	if (!strncmp(q, "len:", 4)) {
		v = json_object_get(j, q + 4);
		if (!json_is_array(v))
			return 3;
		printf("%zu\n", json_array_size(v));
		return 0;
	}
	if (!strncmp(q, "sum:", 4)) {
		char arr[64];
		const char *field = strchr(q + 4, ':');
		double n = 0;
		if (!field || field - (q + 4) >= (long)sizeof(arr))
			return 2;
		snprintf(arr, sizeof(arr), "%.*s", (int)(field - (q + 4)), q + 4);
		json_array_foreach(json_object_get(j, arr), i, x)
			n += json_number_value(json_object_get(x, field + 1));
		printf("%.0f\n", n);
		return 0;
	}
	if (!strncmp(q, "sel:", 4))
		return select_sum(j, q + 4);
	if (!strncmp(q, "get:", 4))
		return select_get(j, q + 4);
	if (!strncmp(q, "float:", 6)) {
		v = path_get(j, q + 6);
		if (!json_is_number(v))
			return 3;
		printf("%.9g\n", json_number_value(v));
		return 0;
	}
	if (!strcmp(q, "bpf_ids")) {
		printf("prog");
		json_array_foreach(json_object_get(j, "bpf_programs"), i, x)
			printf(" %.0f", json_number_value(json_object_get(x, "id")));
		printf(" map");
		json_array_foreach(json_object_get(j, "bpf_map_ids"), i, x)
			printf(" %.0f", json_number_value(x));
		printf("\n");
		return 0;
	}
	v = path_get(j, q);
	return v ? print(v) : 3;
}

/* A JSON lines file: the intervals' queries, or QUERY on the last line. */
static int lines(const char *path, const char *q)
{
	FILE *f = fopen(path, "re");
	json_error_t e;
	json_t *last = NULL;
	double sum = 0;
	long n = 0;
	if (!f)
		return 2;
	for (json_t *j; (j = json_loadf(f, JSON_DISABLE_EOF_CHECK, &e));) {
		const char *t = json_string_value(json_object_get(j, "type"));
		if (t && !strcmp(t, "interval")) {
			n++;
			if (!strncmp(q, "isum:", 5))
				sum += json_number_value(json_object_get(json_object_get(j, "summary"), q + 5));
		}
		json_decref(last);
		last = j;
	}
	fclose(f);
	int rc = 0;
	if (!strncmp(q, "isum:", 5))
		printf("%.0f\n", sum);
	else if (!strcmp(q, "icount"))
		printf("%ld\n", n);
	else
		rc = last ? query(last, q) : 2;
	json_decref(last);
	return rc;
}

int main(int argc, char **argv)
{
	json_error_t e;
	if (argc != 3)
		return 2;
	json_t *j = json_load_file(argv[1], 0, &e);
	if (!j)
		return lines(argv[1], argv[2]);
	int rc = query(j, argv[2]);
	json_decref(j);
	return rc;
}
