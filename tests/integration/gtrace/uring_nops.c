/* uring_nops R [wait]: submits exactly R IORING_OP_NOP requests through
 * liburing and reaps their R completions, then frees the ring and prints
 * the count (gtrace accuracy test).  With "wait" it then reads stdin
 * until EOF before exiting, so that another process can create and use
 * rings - possibly at the address this ring had - while gtrace still
 * traces this one. */
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long r = argc > 1 ? atol(argv[1]) : 1000, done = 0, sent = 0;
	struct io_uring ring;
	if (io_uring_queue_init(64, &ring, 0))
		return 1;
	while (done < r) {
		while (sent < r && sent - done < 32) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			if (!sqe)
				break;
			io_uring_prep_nop(sqe);
			sent++;
		}
		if (io_uring_submit_and_wait(&ring, 1) < 0)
			return 1;
		struct io_uring_cqe *cqe;
		unsigned head, k = 0;
		io_uring_for_each_cqe(&ring, head, cqe)
			k++;
		io_uring_cq_advance(&ring, k);
		done += k;
	}
	io_uring_queue_exit(&ring);
	printf("%ld\n", done);
	fflush(stdout);
	if (argc > 2 && !strcmp(argv[2], "wait")) {
		char buf[256];
		while (read(0, buf, sizeof(buf)) > 0)
			;
	}
	return done == r ? 0 : 1;
}
