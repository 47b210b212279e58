//! Every problem of the guide: the unedited start fails its check, the reference solution
//! passes it. (A start that passed would teach nothing; a solution that failed would be a
//! wrong answer.) Each verdict is printed with its numbers.

/// Allocation counts are process-wide: the tests of this file run one at a time, so one
/// test's allocations (a panic's backtrace, a directory walk) never reach another's count.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn every_start_fails_and_every_solution_passes() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut wrong = Vec::new();
    for p in gort_guide::all() {
        let s = (p.check)(gort_guide::Which::Start);
        let r = (p.check)(gort_guide::Which::Solution);
        eprintln!(
            "{:<40} start: {:<60} solution: {}",
            p.id, s.measured, r.measured
        );
        if s.pass {
            wrong.push(format!("{}: the start passes ({})", p.id, s.measured));
        }
        if !r.pass {
            wrong.push(format!("{}: the solution fails ({})", p.id, r.measured));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn ids_name_their_directories_and_every_directory_is_a_problem() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/guide/problems");
    let mut dirs = Vec::new();
    for lesson in std::fs::read_dir(root).unwrap() {
        let lesson = lesson.unwrap();
        for p in std::fs::read_dir(lesson.path()).unwrap() {
            let p = p.unwrap();
            if p.path().is_dir() {
                for f in ["README.md", "start.rs", "solution.rs"] {
                    assert!(
                        p.path().join(f).exists(),
                        "{} lacks {f}",
                        p.path().display()
                    );
                }
                dirs.push(format!(
                    "{}/{}",
                    lesson.file_name().to_string_lossy(),
                    p.file_name().to_string_lossy()
                ));
            }
        }
    }
    dirs.sort();
    let ids: Vec<String> = gort_guide::all().iter().map(|p| p.id.to_string()).collect();
    assert_eq!(ids, dirs);
}
