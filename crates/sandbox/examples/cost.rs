//! What one sandbox run costs: milliseconds per run of `/bin/true` with the
//! default spec (every protection the machine allows), averaged over 200
//! runs after 20 to warm up. The program is the same in older checkouts of
//! the sandbox, so "before and after" is this example built in both and run
//! alternately (`cargo xtask bench isolation` splits the cost by
//! protection).
fn main() {
    let n = 200;
    let spec = sandbox::Spec::new("/bin/true");
    for _ in 0..20 {
        sandbox::run(&spec).expect("the sandbox failed");
    }
    let t = std::time::Instant::now();
    for _ in 0..n {
        sandbox::run(&spec).expect("the sandbox failed");
    }
    println!("{:.2}", t.elapsed().as_secs_f64() * 1000.0 / n as f64);
}
