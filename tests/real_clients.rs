//! Real clients through bucketgate: samtools (htslib) reads a region of a BAM file over HTTP
//! the way genome viewers do: it probes for `.csi` indexes (404s must pass cleanly), fetches
//! `x.bam.bai` (which a rewrite rule maps to the stored `x.bai`), then reads open-ended ranges
//! (`bytes=N-`) and hangs up once it has its region.

mod common;

use std::path::Path;
use std::process::Command;

use common::fresh_bucket;
use common::gateway::{config_with_routes, Gateway};
use common::upstream::Upstream;

/// The tool's path, or None with a loud note; in CI a missing tool is a failure.
fn tool(name: &str) -> Option<String> {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{name} is not installed; .ci/run installs it (apt-get install {name})"
        );
        eprintln!("SKIPPED: {name} is not installed (apt-get install {name}); this test needs it");
    }
    found
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run a tool");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A sorted, indexed BAM with reads spread over one 200 kb contig.
fn make_bam(dir: &Path, samtools: &str) {
    let mut sam = String::from("@HD\tVN:1.6\tSO:unsorted\n@SQ\tSN:chr1\tLN:200000\n");
    let seq = "ACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTAC";
    let qual = "IIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIII";
    for i in 0..20_000u32 {
        let pos = 1 + (i * 7919) % 199_000;
        sam.push_str(&format!(
            "r{i}\t0\tchr1\t{pos}\t60\t50M\t*\t0\t0\t{seq}\t{qual}\n"
        ));
    }
    std::fs::write(dir.join("reads.sam"), sam).unwrap();
    run(Command::new(samtools)
        .current_dir(dir)
        .args(["sort", "-o", "reads.bam", "reads.sam"]));
    run(Command::new(samtools)
        .current_dir(dir)
        .args(["index", "reads.bam"]));
}

#[test]
fn samtools_reads_a_region_through_bucketgate() {
    let Some(samtools) = tool("samtools") else {
        return;
    };
    let up = Upstream::get();
    let bucket = fresh_bucket("samtools");
    let work = tempfile::tempdir().unwrap();
    make_bam(work.path(), &samtools);
    let bam = std::fs::read(work.path().join("reads.bam")).unwrap();
    let bai = std::fs::read(work.path().join("reads.bam.bai")).unwrap();
    up.put_object(&bucket, "genome/reads.bam", &bam, &[]);
    up.put_object(&bucket, "genome/reads.bai", &bai, &[]);

    let gw = Gateway::start(&config_with_routes(&format!(
        r"routes:
  - path_prefix: /files
    upstream: s3
    bucket: {bucket}
    public: true
    rewrite:
      - match: '\.bam\.bai$'
        replace: '.bai'
"
    )));
    let region = "chr1:150000-150500";
    let want = run(Command::new(&samtools).current_dir(work.path()).args([
        "view",
        "-c",
        "reads.bam",
        region,
    ]));
    // htslib caches downloaded indexes in the working directory: use an empty one.
    let fresh = tempfile::tempdir().unwrap();
    let url = format!("http://{}/files/genome/reads.bam", gw.addr());
    let got = run(Command::new(&samtools)
        .current_dir(fresh.path())
        .args(["view", "-c", &url, region]));
    assert_eq!(
        got.trim(),
        want.trim(),
        "read count of {region} through bucketgate"
    );
    assert!(
        want.trim().parse::<u32>().unwrap() > 0,
        "the region has reads"
    );

    let log = gw.wait_for_log("reads.bai", std::time::Duration::from_secs(5));
    assert!(
        log.contains("key=\"genome/reads.bai\"") && log.contains("status=206"),
        "the index came through the rewrite and the BAM by ranges:\n{log}"
    );
    assert!(
        !log.lines().any(|l| l.contains("ERROR")),
        "samtools' probes and hang-ups were logged as errors:\n{log}"
    );
}
