//! Key events, and the terminal they come from: single keys without
//! Enter, its size, and a promise to give it back the way we found it.
//!
//! [`read_keys`] reads keys on a thread of its own and sends each to the
//! loop as an [`Event::Key`]: single bytes from a terminal in raw mode, or
//! the first letter of each line otherwise.
//!
//! Raw keys come from termios (`tcgetattr`/`tcsetattr`): canonical mode and
//! echo off, so each key arrives as soon as it is pressed and is not
//! printed. Signals stay on (`ISIG`), so Ctrl-C still interrupts at once,
//! even in the middle of a build. The saved settings are restored by
//! whichever comes first: [`RawMode`]'s `Drop` (a normal exit), the panic
//! hook (before the panic message is printed), or a handler for SIGINT,
//! SIGTERM, SIGHUP and SIGQUIT, which restores them and then dies of the
//! same signal, so the shell still sees "killed by SIGINT".

use super::Event;
use std::io::{self, BufRead, Read};
use std::sync::OnceLock;
use std::sync::mpsc::Sender;

/// The settings found at start, for every way out to restore.
static SAVED: OnceLock<libc::termios> = OnceLock::new();

/// Makes the cursor visible again; written on every way out, since the
/// watch screen hides it while it draws.
const SHOW_CURSOR: &[u8] = b"\x1b[?25h";

/// Keys one at a time until dropped.
pub struct RawMode(());

impl RawMode {
    /// Switches stdin (a terminal) to single-key input without echo.
    pub fn enable() -> io::Result<RawMode> {
        // SAFETY: termios is plain old data; tcgetattr fills it in.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd 0 and a valid pointer to a termios.
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut t) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let saved = *SAVED.get_or_init(|| t);
        install_restorers();
        let mut raw = saved;
        raw.c_lflag &= !(libc::ICANON | libc::ECHO);
        raw.c_cc[libc::VMIN] = 1;
        raw.c_cc[libc::VTIME] = 0;
        // SAFETY: fd 0 and a valid termios.
        if unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &raw) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(RawMode(()))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore();
    }
}

/// Puts the terminal back as it was; async-signal-safe (`tcsetattr` and
/// `write` only, on data set before any handler was installed).
fn restore() {
    if let Some(saved) = SAVED.get() {
        // SAFETY: fd 0 and a valid termios; both calls are async-signal-safe.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, saved);
            libc::write(
                libc::STDOUT_FILENO,
                SHOW_CURSOR.as_ptr().cast(),
                SHOW_CURSOR.len(),
            );
        }
    }
}

extern "C" fn on_signal(signal: libc::c_int) {
    restore();
    // SAFETY: signal() and raise() are async-signal-safe. With the default
    // action back, the re-raised signal ends the process as it would have
    // without us (it is delivered once this handler returns).
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

fn install_restorers() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
            // SAFETY: a zeroed sigaction with a handler that only calls
            // async-signal-safe functions; the mask is emptied explicitly.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// The terminal's size as (columns, rows), when stdout is a terminal.
pub fn size() -> Option<(usize, usize)> {
    // SAFETY: winsize is plain old data; TIOCGWINSZ fills it in.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: fd 1 and a valid pointer to a winsize, as TIOCGWINSZ expects.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    (ok && ws.ws_col > 0 && ws.ws_row > 0).then(|| (usize::from(ws.ws_col), usize::from(ws.ws_row)))
}

/// Reads keys on a thread: single bytes from a terminal in raw mode, or
/// the first letter of each line otherwise. End of input ends the thread,
/// not the watch (`watch < /dev/null` keeps watching).
pub fn read_keys(interactive: bool, tx: Sender<Event>) {
    std::thread::spawn(move || {
        if interactive {
            let mut byte = [0u8; 1];
            let mut stdin = std::io::stdin().lock();
            while let Ok(1) = stdin.read(&mut byte) {
                // Ctrl-D (EOT) quits too: it is what a terminal user tries.
                let key = if byte[0] == 4 { 'q' } else { char::from(byte[0]) };
                if tx.send(Event::Key(key)).is_err() {
                    return;
                }
            }
        } else {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { return };
                let Some(key) = line.trim().chars().next() else {
                    continue;
                };
                if tx.send(Event::Key(key)).is_err() {
                    return;
                }
            }
        }
    });
}
