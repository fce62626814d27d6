/* loop.h - the one event loop: epoll over fds, one timerfd for all timers,
 * a signalfd.  Handles are embedded in their owners, never allocated here. */
#ifndef LWM_LOOP_H
#define LWM_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;

struct loop_fd {
	int fd;
	uint32_t events;        /* EPOLLIN, EPOLLOUT ... */
	void (*cb)(struct loop_fd *lf, uint32_t revents);
};

struct loop_timer {
	void (*cb)(struct loop_timer *t);
	uint64_t due;           /* monotonic ms; owned by the loop while armed */
	struct loop_timer *next;
	bool armed;
};

struct loop *loop_new(void);
void loop_free(struct loop *l);
/* 0 or -errno. */
int loop_add_fd(struct loop *l, struct loop_fd *lf);
int loop_mod_fd(struct loop *l, struct loop_fd *lf);
void loop_del_fd(struct loop *l, struct loop_fd *lf);
/* (Re)arms t to fire once, ms from now.  ms 0 runs it on the next turn. */
void loop_timer_set(struct loop *l, struct loop_timer *t, uint64_t ms);
void loop_timer_cancel(struct loop *l, struct loop_timer *t);
/* ms until t fires, or -1 if it is not armed. */
int64_t loop_timer_left(struct loop *l, const struct loop_timer *t);
/* Monotonic and wall clocks in ms. */
uint64_t loop_now(void);
int64_t loop_wall(void);
/* Runs until loop_stop(); returns 0 or -errno. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif
