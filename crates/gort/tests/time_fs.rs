//! gort::fs runs std::fs on the blocking pool; the P keeps running goroutines meanwhile.

#[test]
fn fs_round_trip_from_a_goroutine() {
    let rt = gort::Builder::new().gomaxprocs(1).build().unwrap();
    let dir = std::env::temp_dir().join(format!("gort-fs-{}", std::process::id()));
    rt.block_on(move || {
        gort::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("a.txt");
        let ticker = gort::go(|| {
            for _ in 0..3 {
                gort::time::sleep(std::time::Duration::from_millis(1));
            }
        });
        gort::fs::write(&f, "hello").unwrap();
        assert_eq!(gort::fs::read_to_string(&f).unwrap(), "hello");
        assert_eq!(gort::fs::metadata(&f).unwrap().len(), 5);
        let g = dir.join("b.txt");
        gort::fs::rename(&f, &g).unwrap();
        assert_eq!(gort::fs::read(&g).unwrap(), b"hello");
        gort::fs::remove_file(&g).unwrap();
        ticker.join().unwrap();
        let _ = std::fs::remove_dir(&dir);
    });
}
