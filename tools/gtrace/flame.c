/*
 * flame.c - `--flamegraph FILE.svg`: the off-CPU stacks as a flame
 * graph, one self-contained SVG file (no external script, style sheet
 * or font), drawn here.
 *
 * Why here rather than a tool: Debian ships no flame graph renderer
 * (flamegraph.pl is not packaged), d3-flame-graph is an npm package that
 * needs a browser and its scripts beside the page, and a trace taken on a
 * server should be viewable as it is written: a browser, an image viewer
 * or rsvg-convert shows the file, and the comparison report embeds it.
 *
 * The drawing is flamegraph.pl's: one rectangle per frame, its width its
 * share of the time, the root at the bottom and a frame's callees above
 * it, siblings merged by name and sorted alphabetically, so that the
 * widest towers are where the time went.  With goroutines there are two
 * panels, each scaled to its own total: the OS threads' off-CPU time,
 * and the goroutines' parked and runnable time (the two overlap in time:
 * a worker runs goroutines while others are parked, so they are never
 * drawn on one scale).  Colours: kernel frames teal, user frames blue,
 * the wait kinds ([chan recv], [runnable], [preempted]) purple, what
 * could not be named ([unknown], [libfoo.so]) grey.  Each
 * frame has a tooltip (name, time, share); a small inline script zooms
 * into a frame on click and searches (Ctrl-F style, the "Search" button),
 * and the picture stays complete without it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "gtrace_cli.h"

#define SVG_WIDTH 1200
#define FRAME_H 16
#define PAD_X 10
#define PANEL_HEAD 44           /* a panel's title and subtitle */
#define CHAR_W 6.6              /* monospace, 11 px */
#define MIN_W 0.1               /* narrower frames are not drawn */
#define FOLDED_LINE_MAX 16384
#define STR(x) #x
#define XSTR(x) STR(x)

struct node {
	char *name;
	uint64_t value;
	int child, next;        /* first child, next sibling (-1: none) */
};

struct tree {
	struct node *n;
	int len, cap;
	int depth;              /* frames above the root, deepest */
};

static int node_new(struct tree *t, const char *name, size_t len)
{
	if (t->len == t->cap) {
		int cap = t->cap ? 2 * t->cap : 1024;
		struct node *a = realloc(t->n, (size_t)cap * sizeof(*a));
		if (!a)
			return -1;
		t->n = a;
		t->cap = cap;
	}
	struct node *x = &t->n[t->len];
	x->name = strndup(name, len);
	x->value = 0;
	x->child = x->next = -1;
	return x->name ? t->len++ : -1;
}

/* The child of p named name (created, in alphabetical order). */
static int child_of(struct tree *t, int p, const char *name, size_t len)
{
	int prev = -1, c = t->n[p].child;
	for (; c >= 0; prev = c, c = t->n[c].next) {
		int cmp = strncmp(t->n[c].name, name, len);
		if (!cmp && !t->n[c].name[len])
			return c;
		if (cmp > 0 || (!cmp && t->n[c].name[len]))
			break;
	}
	int x = node_new(t, name, len);
	if (x < 0)
		return -1;
	t->n[x].next = c;
	if (prev < 0)
		t->n[p].child = x;
	else
		t->n[prev].next = x;
	return x;
}

/* Add a folded line's frames with value v under the root (node 0). */
static int tree_add(struct tree *t, const char *line, uint64_t v)
{
	int cur = 0, depth = 0;
	t->n[0].value += v;
	for (const char *p = line; *p;) {
		const char *e = strchr(p, ';');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len) {
			cur = child_of(t, cur, p, len);
			if (cur < 0)
				return -ENOMEM;
			t->n[cur].value += v;
			depth++;
		}
		p += len + (e ? 1 : 0);
	}
	if (depth > t->depth)
		t->depth = depth;
	return 0;
}

static void tree_free(struct tree *t)
{
	for (int i = 0; i < t->len; i++)
		free(t->n[i].name);
	free(t->n);
}

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\t')
				fputc(*s, f);
		}
	}
}

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static bool is_kernel(const char *name)
{
	size_t l = strlen(name);
	return l > 4 && !strcmp(name + l - 4, "_[k]");
}

/* The frames offcpu.c adds: the kinds of waits, and the goroutines' root. */
static bool is_wait(const char *name)
{
	static const char *const fixed[] = { "[goroutines]", "[runnable]", "[preempted]" };
	size_t l = strlen(name);
	if (name[0] != '[' || name[l - 1] != ']')
		return false;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (!strcmp(name, fixed[i]))
			return true;
	for (unsigned r = 0; r < GT_MAX_REASONS; r++) {
		const char *n = gt_wait_reason_name(r);
		if (strlen(n) == l - 2 && !strncmp(name + 1, n, l - 2))
			return true;
	}
	return false;
}

static void color(const char *name, char *buf, size_t len)
{
	uint32_t h = hash(name);
	int v = (int)(h % 55);
	if (is_kernel(name))
		snprintf(buf, len, "rgb(%d,%d,%d)", 40 + v / 2, 170 + v, 160 + v);       /* teal */
	else if (is_wait(name))
		snprintf(buf, len, "rgb(%d,%d,%d)", 160 + v, 120 + v / 2, 210 + v / 2); /* purple */
	else if (name[0] == '[')
		snprintf(buf, len, "rgb(%d,%d,%d)", 170 + v / 2, 170 + v / 2, 170 + v / 2); /* grey: unknown */
	else
		snprintf(buf, len, "rgb(%d,%d,%d)", 80 + v, 130 + v, 220 + v / 2);      /* blue */
}

struct panel {
	const char *title;
	struct tree t;
	double y0;              /* top of the panel */
	int id;
};

/* Draw node x (at depth d, left edge at time offset `at`) and its callees. */
static void draw(FILE *f, const struct panel *p, int x, int d, uint64_t at)
{
	const struct tree *t = &p->t;
	const struct node *n = &t->n[x];
	double total = (double)t->n[0].value, w = (SVG_WIDTH - 2 * PAD_X) * (double)n->value / total;
	if (w < MIN_W)
		return;
	double fx = (double)at / total, fw = (double)n->value / total;
	double xx = PAD_X + fx * (SVG_WIDTH - 2 * PAD_X);
	double yy = p->y0 + PANEL_HEAD + (double)(t->depth - d) * FRAME_H;
	char col[32], tm[32], label[512];
	const char *name = d ? n->name : "all";
	color(name, col, sizeof(col));
	/* kernel frames drawn without their _[k] mark: the colour says it */
	snprintf(label, sizeof(label), "%.*s", (int)strlen(name) - (is_kernel(name) ? 4 : 0), name);
	name = label;
	fprintf(f, "<g class=\"f\" data-p=\"%d\" data-d=\"%d\" data-x=\"%.9f\" data-w=\"%.9f\"><title>", p->id,
		d, fx, fw);
	xml_text(f, name);
	fprintf(f, " (%s, %.2f%%)</title><rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" "
		"fill=\"%s\" rx=\"2\"/>", gt_fmt_ns((double)n->value, tm), 100.0 * fw, xx, yy, w,
		FRAME_H - 1, col);
	fprintf(f, "<text x=\"%.2f\" y=\"%.1f\">", xx + 3, yy + FRAME_H - 4.5);
	int fit = (int)((w - 6) / CHAR_W);
	size_t l = strlen(name);
	if (fit >= 3) {
		if ((size_t)fit >= l) {
			xml_text(f, name);
		} else {
			char cut[512];
			snprintf(cut, sizeof(cut), "%.*s..", fit - 2 < 500 ? fit - 2 : 500, name);
			xml_text(f, cut);
		}
	}
	fputs("</text></g>\n", f);
	uint64_t off = at;
	for (int c = n->child; c >= 0; c = t->n[c].next) {
		draw(f, p, c, d + 1, off);
		off += t->n[c].value;
	}
}

/* Zoom and search, scoped to the <svg> element a click is in, so that
 * two flame graphs inlined in one page (the comparison report) do not
 * act on each other; the listener is added once per page. */
static const char script[] =
"<script type=\"text/ecmascript\"><![CDATA[\n"
"// click a frame: zoom into it (in its panel); 'Reset zoom': back; 'Search': highlight\n"
"(function () {\n"
"var W = " XSTR(SVG_WIDTH) ", P = " XSTR(PAD_X) ", CW = " XSTR(CHAR_W) ";\n"
"function fit(g, w) {\n"
"  var t = g.querySelector('text'), n = g.querySelector('title').textContent;\n"
"  n = n.substring(0, n.lastIndexOf(' ('));\n"
"  var k = Math.floor((w - 6) / CW);\n"
"  t.textContent = k < 3 ? '' : (n.length <= k ? n : n.substring(0, k - 2) + '..');\n"
"}\n"
"function frames(root, p) { return root.querySelectorAll('g.f[data-p=\"' + p + '\"]'); }\n"
"function zoom(g) {\n"
"  var p = g.dataset.p, d = +g.dataset.d, x0 = +g.dataset.x, w0 = +g.dataset.w;\n"
"  frames(g.ownerSVGElement, p).forEach(function (e) {\n"
"    var x = +e.dataset.x, w = +e.dataset.w, r = e.querySelector('rect'), t = e.querySelector('text');\n"
"    var inside = x >= x0 - 1e-12 && x + w <= x0 + w0 + 1e-12;\n"
"    var below = +e.dataset.d < d && x <= x0 + 1e-12 && x + w >= x0 + w0 - 1e-12;\n"
"    if (!inside && !below) { e.style.display = 'none'; return; }\n"
"    e.style.display = '';\n"
"    var nx = below ? 0 : (x - x0) / w0, nw = below ? 1 : w / w0;\n"
"    var px = P + nx * (W - 2 * P), pw = nw * (W - 2 * P);\n"
"    r.setAttribute('x', px); r.setAttribute('width', pw); t.setAttribute('x', px + 3);\n"
"    fit(e, pw);\n"
"  });\n"
"}\n"
"function reset(h) {\n"
"  frames(h.ownerSVGElement, h.dataset.p).forEach(function (e) {\n"
"    var px = P + +e.dataset.x * (W - 2 * P), pw = +e.dataset.w * (W - 2 * P);\n"
"    var r = e.querySelector('rect'), t = e.querySelector('text');\n"
"    e.style.display = pw < 0.1 ? 'none' : '';\n"
"    r.setAttribute('x', px); r.setAttribute('width', pw); t.setAttribute('x', px + 3); fit(e, pw);\n"
"  });\n"
"}\n"
"function search(root) {\n"
"  var q = prompt('Frames to highlight (a regular expression):'); if (q === null) return;\n"
"  var re = new RegExp(q);\n"
"  root.querySelectorAll('g.f').forEach(function (e) {\n"
"    var n = e.querySelector('title').textContent, r = e.querySelector('rect');\n"
"    if (!r.dataset.fill) r.dataset.fill = r.getAttribute('fill');\n"
"    r.setAttribute('fill', q && re.test(n) ? 'rgb(230,0,230)' : r.dataset.fill);\n"
"  });\n"
"}\n"
"if (window.gtraceFlame) return;\n"
"window.gtraceFlame = true;\n"
"document.addEventListener('click', function (ev) {\n"
"  var t = ev.target; if (!t.closest) return;\n"
"  var g = t.closest('g.f'), h = t.closest('.reset'), s = t.closest('.search');\n"
"  if (g) zoom(g); else if (h) reset(h); else if (s) search(s.ownerSVGElement);\n"
"});\n"
"})();\n"
"]]></script>\n";

int gt_flame_write(const char *path, const struct gt_snapshot *s)
{
	struct panel p[2] = {
		{ .title = "OS threads: off-CPU time (blocked, or preempted and waiting for a CPU)", .id = 0 },
		{ .title = "Goroutines: parked (by reason) and made ready but waiting for a worker", .id = 1 },
	};
	char *line = malloc(FOLDED_LINE_MAX), tm[32];
	int err = 0;
	FILE *f = NULL;

	for (int i = 0; i < 2 && !err; i++)
		if (node_new(&p[i].t, "all", 3) < 0)
			err = -ENOMEM;
	for (int i = 0; !err && line && s->off && i < s->off->n; i++) {
		const struct gt_off_entry *e = &s->off->e[i];
		err = tree_add(&p[e->kind >= GT_OFF_G_PARKED].t, gt_off_folded(s, e, line, FOLDED_LINE_MAX), e->ns);
	}
	if (!line)
		err = -ENOMEM;
	if (err)
		goto out;
	double h = 0;
	for (int i = 0; i < 2; i++) {
		if (!p[i].t.n[0].value)
			continue;
		p[i].y0 = h;
		h += PANEL_HEAD + (p[i].t.depth + 1) * FRAME_H + 20;
	}
	if (h == 0)
		h = PANEL_HEAD + 40;
	f = fopen(path, "we");
	if (!f) {
		err = -errno;
		gt_err("cannot write the flame graph to %s: %s", path, strerror(errno));
		goto out;
	}
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n");
	fprintf(f, "<svg version=\"1.1\" width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d %.0f\" "
		"xmlns=\"http://www.w3.org/2000/svg\">\n", SVG_WIDTH, h + 24, SVG_WIDTH, h + 24);
	fprintf(f, "<style>text { font: 11px monospace; fill: #111; pointer-events: none } "
		".h { font: bold 14px sans-serif } .s { font: 12px sans-serif; fill: #555 } "
		".reset, .search { font: 12px sans-serif; fill: #36c; cursor: pointer; pointer-events: all } "
		"g.f { cursor: pointer } g.f:hover rect { stroke: #000; stroke-width: 0.6 }</style>\n");
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#f8f8f8\"/>\n");
	fputs(script, f);
	int drawn = 0;
	for (int i = 0; i < 2; i++) {
		if (!p[i].t.n[0].value)
			continue;
		fprintf(f, "<text class=\"h\" x=\"%d\" y=\"%.0f\">", PAD_X, p[i].y0 + 18);
		xml_text(f, p[i].title);
		fprintf(f, "</text>\n<text class=\"s\" x=\"%d\" y=\"%.0f\">%s of %s (pid %d), %s in all; "
			"width: time; kernel frames teal, user blue, waits purple</text>\n", PAD_X,
			p[i].y0 + 34, "gtrace --offcpu", s->comm[0] ? s->comm : "?", (int)s->pid,
			gt_fmt_ns((double)p[i].t.n[0].value, tm));
		fprintf(f, "<text class=\"reset\" data-p=\"%d\" x=\"%d\" y=\"%.0f\" text-anchor=\"end\">"
			"Reset zoom</text>\n", p[i].id, SVG_WIDTH - PAD_X, p[i].y0 + 18);
		if (!drawn)
			fprintf(f, "<text class=\"search\" x=\"%d\" y=\"%.0f\" text-anchor=\"end\">Search</text>\n",
				SVG_WIDTH - PAD_X - 90, p[i].y0 + 18);
		draw(f, &p[i], 0, 0, 0);
		drawn++;
	}
	if (!drawn)
		fprintf(f, "<text class=\"h\" x=\"%d\" y=\"24\">gtrace --offcpu: no off-CPU time seen</text>\n",
			PAD_X);
	fprintf(f, "</svg>\n");
	if (ferror(f) | fclose(f)) {
		gt_err("cannot write the flame graph to %s: %s (check the disk has room)", path, strerror(errno));
		err = -EIO;
	}
out:
	for (int i = 0; i < 2; i++)
		tree_free(&p[i].t);
	free(line);
	return err;
}
