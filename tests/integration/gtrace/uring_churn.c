/* uring_churn RINGS NOPS: creates RINGS io_uring instances one after the
 * other, makes NOPS NOP requests on each and frees it (gtrace test: an
 * untraced process whose rings may reuse the memory of a traced
 * process's freed ring; none of its completions are the target's). */
#include <liburing.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	long rings = argc > 1 ? atol(argv[1]) : 100, nops = argc > 2 ? atol(argv[2]) : 50;
	for (long i = 0; i < rings; i++) {
		struct io_uring ring;
		if (io_uring_queue_init(8, &ring, 0))
			return 1;
		for (long n = 0; n < nops; n++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			struct io_uring_cqe *cqe;
			io_uring_prep_nop(sqe);
			if (io_uring_submit_and_wait(&ring, 1) < 0 || io_uring_wait_cqe(&ring, &cqe))
				return 1;
			io_uring_cqe_seen(&ring, cqe);
		}
		io_uring_queue_exit(&ring);
	}
	return 0;
}
