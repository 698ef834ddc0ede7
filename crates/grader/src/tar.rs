//! A tar reader that never touches the disk: it walks the stream's headers
//! and hands each regular file's name and bytes to a callback.
//!
//! Extracting a hostile archive with a tool invites path traversal
//! (`../../etc/x`), links that redirect later members, and archives that
//! unpack to terabytes. Reading the stream here avoids all three: nothing
//! is written, links and devices are skipped, and reading stops after a
//! byte budget. It understands what `tar` writes today: ustar headers
//! (with the 155-byte prefix), GNU long names (`L`) and pax `path` records
//! (`x`), sizes in octal or base-256.
//!
//! References: POSIX `pax` "ustar Interchange Format"; GNU tar manual,
//! "Basic Tar Format".

use std::io::{self, Read};

const BLOCK: usize = 512;
/// The longest name taken from a GNU long-name or pax record.
const MAX_NAME: u64 = 4096;

/// Calls `visit(name, size, data)` for each regular file of the tar stream
/// `input`, where `data` yields exactly its `size` bytes (whatever `visit`
/// leaves unread is skipped). Stops with an error after `budget` bytes.
pub fn read(
    input: impl Read,
    budget: u64,
    visit: &mut dyn FnMut(&str, u64, &mut dyn Read) -> io::Result<()>,
) -> io::Result<()> {
    let mut input = Budget {
        inner: input,
        left: budget,
    };
    let mut long_name: Option<String> = None;
    let mut zero_blocks = 0;
    let mut header = [0u8; BLOCK];
    loop {
        if !read_block(&mut input, &mut header)? {
            // End of stream without the two zero blocks: accept it, as tar does.
            return Ok(());
        }
        if header.iter().all(|&b| b == 0) {
            zero_blocks += 1;
            if zero_blocks == 2 {
                return Ok(());
            }
            continue;
        }
        zero_blocks = 0;
        if !checksum_ok(&header) {
            return Err(invalid("not a tar archive (a header's checksum is wrong)"));
        }
        let size = parse_size(&header[124..136])?;
        let padded = size.div_ceil(BLOCK as u64) * BLOCK as u64;
        let kind = header[156];
        match kind {
            b'L' | b'x' => {
                let mut data = Vec::new();
                (&mut input).take(size.min(MAX_NAME * 4)).read_to_end(&mut data)?;
                skip(&mut input, padded - data.len() as u64)?;
                let name = if kind == b'L' {
                    Some(cstr(&data))
                } else {
                    pax_path(&data)
                };
                if name.is_some() {
                    long_name = name;
                }
            }
            b'0' | 0 | b'7' => {
                let name = long_name.take().unwrap_or_else(|| ustar_name(&header));
                let mut data = (&mut input).take(size);
                visit(&name, size, &mut data)?;
                // Whatever the visitor did not read, then the padding.
                io::copy(&mut data, &mut io::sink())?;
                if data.limit() > 0 {
                    return Err(invalid("the archive ends in the middle of a file"));
                }
                skip(&mut input, padded - size)?;
            }
            _ => {
                // Directories, links, devices, global pax headers: skipped.
                long_name = None;
                skip(&mut input, padded)?;
            }
        }
    }
}

/// A reader that fails once it has given `left` bytes.
struct Budget<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(invalid("the archive unpacks to more than the grader reads"));
        }
        let max = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

/// Fills `block`; `false` at a clean end of stream.
fn read_block(input: &mut impl Read, block: &mut [u8; BLOCK]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < BLOCK {
        match input.read(&mut block[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(invalid("the archive ends in the middle of a header")),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn skip(input: &mut impl Read, bytes: u64) -> io::Result<()> {
    let skipped = io::copy(&mut input.take(bytes), &mut io::sink())?;
    if skipped < bytes {
        return Err(invalid("the archive ends in the middle of a file"));
    }
    Ok(())
}

/// The header checksum: the sum of its bytes with the checksum field as spaces.
fn checksum_ok(h: &[u8; BLOCK]) -> bool {
    let Ok(stored) = parse_octal(&h[148..156]) else {
        return false;
    };
    let sum: u64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u64::from(b) })
        .sum();
    sum == stored
}

fn parse_octal(field: &[u8]) -> io::Result<u64> {
    let text = cstr(field);
    let text = text.trim_matches(|c: char| c == ' ' || c == '\0');
    if text.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(text, 8).map_err(|_| invalid("a header has a malformed number"))
}

/// Octal, or GNU's base-256 (high bit of the first byte set) for big sizes.
fn parse_size(field: &[u8]) -> io::Result<u64> {
    if field[0] & 0x80 == 0 {
        return parse_octal(field);
    }
    let mut n: u64 = u64::from(field[0] & 0x7f);
    for &b in &field[1..] {
        n = n
            .checked_mul(256)
            .and_then(|n| n.checked_add(u64::from(b)))
            .ok_or_else(|| invalid("a header has an impossible size"))?;
    }
    Ok(n)
}

/// The text up to the first NUL.
fn cstr(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// `prefix/name` for ustar headers, `name` for older ones.
fn ustar_name(h: &[u8; BLOCK]) -> String {
    let name = cstr(&h[0..100]);
    if &h[257..262] == b"ustar" {
        let prefix = cstr(&h[345..500]);
        if !prefix.is_empty() {
            return format!("{prefix}/{name}");
        }
    }
    name
}

/// The `path` of a pax extended header: records `LEN key=value\n`.
fn pax_path(data: &[u8]) -> Option<String> {
    let mut rest = data;
    let mut path = None;
    while !rest.is_empty() {
        let space = rest.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(&rest[..space]).ok()?.parse().ok()?;
        if len <= space || len > rest.len() {
            return path;
        }
        let record = &rest[space + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(value) = record.strip_prefix(b"path=") {
            path = Some(String::from_utf8_lossy(value).into_owned());
        }
        rest = &rest[len..];
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One ustar header for `name` of `size` bytes and type `kind`.
    fn header(name: &str, size: usize, kind: u8) -> Vec<u8> {
        let mut h = vec![0u8; BLOCK];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        h
    }

    fn member(name: &str, data: &[u8], kind: u8) -> Vec<u8> {
        let mut out = header(name, data.len(), kind);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
        out
    }

    fn list(archive: &[u8]) -> io::Result<Vec<(String, Vec<u8>)>> {
        let mut seen = Vec::new();
        read(archive, 1 << 20, &mut |name, _, data| {
            let mut bytes = Vec::new();
            data.read_to_end(&mut bytes)?;
            seen.push((name.to_string(), bytes));
            Ok(())
        })?;
        Ok(seen)
    }

    #[test]
    fn reads_regular_files_and_skips_links() {
        let mut archive = member("a/b.rs", b"fn main() {}", b'0');
        archive.extend(member("a/link.rs", b"", b'2'));
        archive.extend(member("a/dir", b"", b'5'));
        let long = format!("{}/x.rs", "d".repeat(150));
        archive.extend(member("././@LongLink", format!("{long}\0").as_bytes(), b'L'));
        archive.extend(member("ignored", b"long", b'0'));
        archive.extend(member("PaxHeaders/p", b"17 path=pax/p.rs\n", b'x'));
        archive.extend(member("short", b"pax", b'0'));
        archive.extend(vec![0u8; 2 * BLOCK]);
        let seen = list(&archive).unwrap();
        let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a/b.rs", long.as_str(), "pax/p.rs"]);
        assert_eq!(seen[0].1, b"fn main() {}");
    }

    #[test]
    fn rejects_garbage_and_truncation() {
        assert!(list(&[7u8; BLOCK]).is_err());
        let archive = member("a.rs", &[1u8; 1000], b'0');
        assert!(list(&archive[..700]).is_err());
    }

    #[test]
    fn stops_at_the_budget() {
        let archive = member("a.rs", &[1u8; 4000], b'0');
        let result = read(archive.as_slice(), 2048, &mut |_, _, _| Ok(()));
        assert!(result.is_err());
    }
}
