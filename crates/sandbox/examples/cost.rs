//! scratch: ms per sandbox run of /bin/true, default spec
fn main() {
    let n = 200;
    let spec = sandbox::Spec::new("/bin/true");
    for _ in 0..20 {
        sandbox::run(&spec).unwrap();
    }
    let t = std::time::Instant::now();
    for _ in 0..n {
        sandbox::run(&spec).unwrap();
    }
    println!("{:.2}", t.elapsed().as_secs_f64() * 1000.0 / n as f64);
}
