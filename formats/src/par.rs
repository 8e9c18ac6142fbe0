//! Work spread over threads: the one way sealbox runs things in parallel (the value cipher
//! of a large file here; files in `updatekeys` and `check` in the CLI).
//!
//! Scoped threads over contiguous chunks, the first chunk on the calling thread, results in
//! item order. No pool is kept: a run that needs no parallelism starts no thread, so the
//! start-up of `sealbox decrypt` on a small file pays nothing (a pool crate would cost a
//! dependency for the same two functions).

/// How many threads for `len` items, each thread getting at least `per_thread` items:
/// at most the machine's parallelism and `max`, at least 1.
pub fn threads_for(len: usize, per_thread: usize, max: usize) -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(len / per_thread.max(1))
        .clamp(1, max.max(1))
}

/// Runs `f` on every item, on `threads` threads; stops each chunk at its first error and
/// returns the first error in item order.
pub fn try_for_each_mut<T: Send, E: Send>(
    items: &mut [T],
    threads: usize,
    f: impl Fn(&mut T) -> Result<(), E> + Sync,
) -> Result<(), E> {
    if threads <= 1 || items.len() < 2 {
        return items.iter_mut().try_for_each(f);
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let mut chunks = items.chunks_mut(chunk);
        let first = chunks.next().expect("non-empty");
        let handles: Vec<_> = chunks
            .map(|c| s.spawn(move || c.iter_mut().try_for_each(f)))
            .collect();
        let mut r = first.iter_mut().try_for_each(f);
        for h in handles {
            let rh = h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            if r.is_ok() {
                r = rh;
            }
        }
        r
    })
}

/// `f` of every item, in item order, computed on `threads` threads.
pub fn map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if threads <= 1 || items.len() < 2 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let mut chunks = items.chunks(chunk);
        let first = chunks.next().expect("non-empty");
        let handles: Vec<_> = chunks
            .map(|c| s.spawn(move || c.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out: Vec<R> = first.iter().map(f).collect();
        for h in handles {
            out.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_keeps_item_order_on_any_number_of_threads() {
        let items: Vec<u32> = (0..1000).collect();
        for t in [1, 2, 3, 7, 64] {
            let out = map(&items, t, |x| x * 2);
            assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>(), "{t}");
        }
        assert!(map(&[] as &[u32], 4, |x| *x).is_empty());
    }

    #[test]
    fn the_first_error_in_item_order_wins() {
        let mut items: Vec<u32> = (0..100).collect();
        let r = try_for_each_mut(&mut items, 4, |x| {
            if *x == 70 || *x == 30 {
                Err(*x)
            } else {
                *x += 1000;
                Ok(())
            }
        });
        assert_eq!(r, Err(30));
        assert_eq!(items[0], 1000, "work before the error is done");
    }

    #[test]
    fn thread_counts_are_bounded() {
        assert_eq!(threads_for(0, 10, 8), 1);
        assert_eq!(threads_for(5, 10, 8), 1);
        assert!(threads_for(1_000_000, 1, 8) <= 8);
        assert!(threads_for(1_000_000, 1, 8) >= 1);
    }
}
