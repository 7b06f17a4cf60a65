/*
 * hist.c - log2 histograms printed the way libbpf-tools' print_log2_hist
 * does: one row per power of two, a star bar scaled to the largest row.
 */
#include <string.h>
#include "gtrace_cli.h"

double gt_hist_total(const uint32_t *slots, int n)
{
	double t = 0;
	for (int i = 0; i < n; i++)
		t += slots[i];
	return t;
}

static void stars(FILE *f, uint32_t val, uint32_t max, int width)
{
	int n = max ? (int)((double)val * width / max) : 0;
	bool more = val > max;
	if (n > width)
		n = width;
	for (int i = 0; i < n; i++)
		fputc('*', f);
	for (int i = n; i < width; i++)
		fputc(' ', f);
	if (more)
		fputc('+', f);
}

void gt_hist_print(FILE *f, const uint32_t *slots, int n, const char *unit)
{
	int last = -1;
	uint32_t max = 0;
	for (int i = 0; i < n; i++) {
		if (slots[i]) {
			last = i;
			if (slots[i] > max)
				max = slots[i];
		}
	}
	if (last < 0) {
		fprintf(f, "     (no samples)\n");
		return;
	}
	fprintf(f, "%*s%-*s : count    distribution\n", 11, "", 14, unit);
	for (int i = 0; i <= last; i++) {
		unsigned long long lo = i ? 1ULL << i : 0, hi = (1ULL << (i + 1)) - 1;
		fprintf(f, "%14llu -> %-14llu : %-8u |", lo, hi, slots[i]);
		stars(f, slots[i], max, 40);
		fprintf(f, "|\n");
	}
}
