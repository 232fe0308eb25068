// SPDX-License-Identifier: GPL-2.0
/*
 * Redeeming a token: its sockets become descriptors of the calling
 * process, installed only once they can no longer be taken back.
 */
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/net.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "compat.h"
#include "sharedsock.h"
#include "token.h"

/**
 * struct ss_fd_out - where a redeem puts the numbers of the descriptors it
 * installs
 * @kfd:      single redeem: the one number, which the ioctl returns
 * @ufds:     vectored redeem: the caller's array, or NULL for @kfd
 * @pages:    the pages under @ufds, pinned before the first descriptor is
 *            installed
 * @nr_pages: pages pinned: 0, 1 or 2
 *
 * Lives on the redeemer's stack for one call.  A descriptor cannot be
 * taken back once it is in the table (another thread may already use, or
 * close and reuse, its number), so nothing may fail after the first one
 * is installed.  Writing a number into pinned pages cannot fault; the
 * user memory is checked, whole, before that.
 *
 * The numbers could instead be reserved, written to user memory, and only
 * then installed, as receive_fd() does one descriptor at a time since
 * 6.8; but receive_fd() is the only exported way to run the LSM's
 * file_receive hook and apply the receiver's cgroup data to the socket,
 * 6.1's takes no user pointer, and one at a time a fault on the third slot
 * would leave the first two installed.
 */
struct ss_fd_out {
	int kfd;
	int __user *ufds;
	struct page *pages[2];
	int nr_pages;
};

/* Pin the user memory for @n numbers; nothing to do for a single redeem. */
static int ss_fd_out_pin(struct ss_fd_out *out, unsigned int n)
{
	unsigned long start = (unsigned long)out->ufds;
	size_t len = n * sizeof(*out->ufds);
	int nr, pinned;

	BUILD_BUG_ON(SHAREDSOCK_VEC_MAX * sizeof(int) > PAGE_SIZE);
	out->nr_pages = 0;
	if (!out->ufds)
		return 0;
	if (!access_ok(out->ufds, len))
		return -EFAULT;
	nr = PFN_UP(start + len) - PFN_DOWN(start);
	pinned = pin_user_pages_fast(start & PAGE_MASK, nr, FOLL_WRITE,
				     out->pages);
	if (pinned == nr) {
		out->nr_pages = nr;
		return 0;
	}
	if (pinned > 0)
		unpin_user_pages(out->pages, pinned);
	return pinned < 0 ? pinned : -EFAULT;
}

static void ss_fd_out_unpin(struct ss_fd_out *out)
{
	if (out->nr_pages)
		unpin_user_pages_dirty_lock(out->pages, out->nr_pages, true);
}

/* Store number @i; an int of a misaligned array may span both pages. */
static void ss_fd_out_put(struct ss_fd_out *out, unsigned int i, int fd)
{
	size_t pos = offset_in_page(out->ufds) + i * sizeof(fd);
	const char *from = (const char *)&fd;
	size_t left = sizeof(fd);

	if (!out->ufds) {
		out->kfd = fd;
		return;
	}
	while (left) {
		size_t len = min(left, PAGE_SIZE - offset_in_page(pos));

		memcpy_to_page(out->pages[pos >> PAGE_SHIFT],
			       offset_in_page(pos), from, len);
		pos += len;
		from += len;
		left -= len;
	}
}

/*
 * Install @n of a claimed token's remaining sockets, storing their numbers
 * in @out.  Returns how many, or the error of the first when none could be.
 */
static int ss_token_install(struct ss_token *tok, unsigned int o_flags,
			    struct ss_fd_out *out, unsigned int n)
{
	struct file **files = ss_token_files(tok) + tok->next_file;
	unsigned int i;
	int fd = 0;

	for (i = 0; i < n; i++) {
		fd = ss_receive_fd(files[i], o_flags);
		if (fd < 0)
			break;
		ss_fd_out_put(out, i, fd);
	}
	return i ?: fd;
}

/* Drop the token's references to @n sockets now installed. */
static void ss_token_hand_over(struct ss_token *tok, int n)
{
	struct file **files = ss_token_files(tok) + tok->next_file;
	int i;

	/*
	 * Under sharedsock_lock, so that LIST never looks at a socket whose
	 * reference is gone: with bottom halves off, a final fput() is
	 * deferred to a work item.
	 */
	lockdep_assert_held(&sharedsock_lock);
	for (i = 0; i < n; i++)
		fput(files[i]);
	tok->next_file += n;
}

/*
 * The claimant's verdict on its token after installing @n sockets (or
 * failing with @n < 0).  Returns true when the caller must free the token.
 */
static bool ss_token_settle(struct ss_token *tok, int n)
{
	bool ended;

	lockdep_assert_held(&sharedsock_lock);
	if (tok->state == SS_TOKEN_DOOMED) {
		/* Killed meanwhile: everything was uncharged then. */
		if (n > 0)
			ss_token_hand_over(tok, n);
		return true;
	}
	ended = n > 0 && tok->next_file + n == tok->nr_files;
	if (ended) {
		ss_token_unlink(tok);
		tok->state = SS_TOKEN_DEAD;
		ss_stat_add(SS_STAT_TOKENS_REDEEMED, 1);
	} else {
		if (n > 0)
			ss_user_uncharge(tok->owner, n);
		tok->state = SS_TOKEN_LIVE;
	}
	if (n > 0)
		ss_token_hand_over(tok, n);
	return ended;
}

/*
 * The token is claimed while its files are installed, so that of
 * concurrent redeems exactly one proceeds; sockets that could not be
 * installed (EMFILE, or refused by the LSM) stay in the token, which
 * becomes redeemable again unless it was killed meanwhile.  Returns how
 * many descriptors were installed, or an error with nothing taken.
 */
static int ss_token_redeem_to(const struct sharedsock_info *info,
			      unsigned int o_flags, struct ss_fd_out *out,
			      unsigned int room)
{
	struct ss_token *tok;
	unsigned int n;
	bool ended;
	int ret;

	tok = ss_token_claim(info);
	if (!tok)
		return -EINVAL;

	/* Only a claimant advances next_file: @n holds until settled. */
	n = min_t(unsigned int, room, tok->nr_files - tok->next_file);
	ret = ss_fd_out_pin(out, n);
	if (!ret) {
		ret = ss_token_install(tok, o_flags, out, n);
		ss_fd_out_unpin(out);
	}
	spin_lock_bh(&sharedsock_lock);
	ended = ss_token_settle(tok, ret);
	spin_unlock_bh(&sharedsock_lock);

	if (ended)
		ss_token_destroy(tok);
	return ret;
}

/**
 * ss_token_redeem - install a token's next socket into the caller's fd table
 * @info:    the token
 * @o_flags: 0 or O_CLOEXEC
 *
 * Return: the new descriptor; -EINVAL for a token that is unknown, used,
 * expired, revoked or bound to another process; an error from receive_fd()
 * (the token is then intact).
 */
int ss_token_redeem(const struct sharedsock_info *info, unsigned int o_flags)
{
	struct ss_fd_out out = { };
	int ret;

	ret = ss_token_redeem_to(info, o_flags, &out, 1);
	return ret < 0 ? ret : out.kfd;
}

/**
 * ss_token_redeem_vec - install up to @room of a token's remaining sockets
 * @info:    the token
 * @o_flags: 0 or O_CLOEXEC
 * @ufds:    gets the new descriptors, in export order
 * @room:    size of @ufds, 1 to SHAREDSOCK_VEC_MAX
 *
 * Return: how many descriptors were installed; -EINVAL as for
 * ss_token_redeem(); -EFAULT if @ufds cannot be written, checked before
 * anything is installed (the token is then intact); an error from
 * receive_fd() when not even one socket could be installed.
 */
int ss_token_redeem_vec(const struct sharedsock_info *info,
			unsigned int o_flags, int __user *ufds,
			unsigned int room)
{
	struct ss_fd_out out = { .ufds = ufds };

	return ss_token_redeem_to(info, o_flags, &out, room);
}
