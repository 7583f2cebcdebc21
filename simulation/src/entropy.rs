//! Seeded operating-system entropy for simulation threads. chitchat picks gossip peers with
//! `rand::rng()`, which seeds itself from the OS through `getrandom`, so convergence times
//! differed between runs of a seed. This module defines the C symbol `getrandom` in simulation
//! binaries only (the build script exports it, so the `dlsym` lookup of the `getrandom` crate and
//! of std finds it first): on a thread that called [`seed_thread`] it answers from a stream
//! seeded by the run; on any other thread it asks the kernel, as libc would.

use std::cell::RefCell;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

thread_local! {
    static STREAM: RefCell<Option<StdRng>> = const { RefCell::new(None) };
}

/// From now on, entropy asked for on this thread comes from `seed`. Use a fresh thread per run:
/// a thread's `rand::rng()` draws its seed once, the first time it is used.
pub fn seed_thread(seed: u64) {
    STREAM.with(|stream| *stream.borrow_mut() = Some(StdRng::seed_from_u64(seed)));
}

/// Fills `buffer` from this thread's seeded stream; false when the thread has none.
fn fill_seeded(buffer: &mut [u8]) -> bool {
    STREAM.with(|stream| match stream.borrow_mut().as_mut() {
        Some(rng) => {
            rng.fill_bytes(buffer);
            true
        }
        None => false,
    })
}

/// `ssize_t getrandom(void *buf, size_t buflen, unsigned int flags)`, as in glibc.
///
/// # Safety
/// `buffer` must be valid for writes of `length` bytes (the C contract).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getrandom(
    buffer: *mut libc::c_void,
    length: libc::size_t,
    flags: libc::c_uint,
) -> libc::ssize_t {
    if !buffer.is_null() && length > 0 {
        // SAFETY: the caller passes a buffer valid for `length` bytes.
        let bytes = unsafe { std::slice::from_raw_parts_mut(buffer.cast::<u8>(), length) };
        if fill_seeded(bytes) {
            return length as libc::ssize_t;
        }
    }
    // SAFETY: the raw system call with the caller's own arguments.
    unsafe { libc::syscall(libc::SYS_getrandom, buffer, length, flags) as libc::ssize_t }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seeded_thread_draws_the_same_bytes() {
        let draw = |seed| {
            std::thread::spawn(move || {
                seed_thread(seed);
                let mut bytes = [0u8; 16];
                // SAFETY: a valid 16-byte buffer.
                let written = unsafe { getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
                assert_eq!(written, 16);
                bytes
            })
            .join()
            .expect("thread")
        };
        assert_eq!(draw(9), draw(9));
        assert_ne!(draw(9), draw(10));
    }

    #[test]
    fn an_unseeded_thread_gets_the_kernel_s_bytes() {
        let draw = || {
            std::thread::spawn(|| {
                let mut bytes = [0u8; 32];
                // SAFETY: a valid 32-byte buffer.
                let written = unsafe { getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
                assert_eq!(written, 32);
                bytes
            })
            .join()
            .expect("thread")
        };
        assert_ne!(draw(), draw(), "two kernel draws of 32 bytes agreed");
    }
}
