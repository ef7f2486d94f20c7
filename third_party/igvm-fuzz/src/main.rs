//! One input is one IGVM file, handed to libigvm's C API as QEMU's backends/igvm.c does:
//! `igvm_new_from_binary` (the bytes as the guest supplied them; the crate parses them with
//! no isolation filter), and for a file it accepts, every header of the three sections with
//! its type, its binary form and its file data, read through the buffer calls and freed.
//! A panic (an overflow check, an index, an assertion) aborts: libFuzzer keeps the input.
//!
//! Two things the input's fixed header can ask for (IGVM_FIXED_HEADER: magic, version,
//! variable header offset, variable header size, total size, checksum; 6 x u32 LE):
//! - checksum 0: the target writes the right CRC32 into its copy first, as any guest that
//!   builds a file would, so that mutated headers get past the checksum to the parser;
//! - with VMFWUPDATE_IGVM_GUARD=1 in the environment, the target refuses (as a device-side
//!   check before libigvm would) a file whose variable header offset plus size passes its
//!   end; libigvm 0.5.0 adds the two in u32 and panics when the sum wraps.
#![no_main]

use igvm::c_api::{
    igvm_free, igvm_free_buffer, igvm_get_buffer, igvm_get_buffer_size, igvm_get_header,
    igvm_get_header_data, igvm_get_header_type, igvm_header_count, igvm_new_from_binary,
    IgvmHeaderSection,
};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const SECTIONS: [IgvmHeaderSection; 3] = [
    IgvmHeaderSection::HEADER_SECTION_PLATFORM,
    IgvmHeaderSection::HEADER_SECTION_INITIALIZATION,
    IgvmHeaderSection::HEADER_SECTION_DIRECTIVE,
];
const FIXED_HEADER_SIZE: usize = 24;
const OFFSET_FIELD: usize = 8;
const SIZE_FIELD: usize = 12;
const CHECKSUM_FIELD: usize = 20;
const GUARD_VARIABLE: &str = "VMFWUPDATE_IGVM_GUARD";

fn field(data: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(data[at..at + 4].try_into().unwrap())
}

/// Where the fixed header says the variable header section is: offset and end, in u64.
fn variable_header_span(data: &[u8]) -> Option<(u64, u64)> {
    if data.len() < FIXED_HEADER_SIZE {
        return None;
    }
    let offset = u64::from(field(data, OFFSET_FIELD));
    Some((offset, offset + u64::from(field(data, SIZE_FIELD))))
}

fn guarded() -> bool {
    static GUARDED: OnceLock<bool> = OnceLock::new();
    *GUARDED.get_or_init(|| std::env::var(GUARD_VARIABLE).is_ok_and(|v| v == "1"))
}

/// The device-side check: the variable header section ends inside the file (a file too
/// short for a fixed header is libigvm's to refuse).
fn passes_guard(data: &[u8]) -> bool {
    variable_header_span(data).is_none_or(|(_, end)| end <= data.len() as u64)
}

/// The file with its checksum filled in when the input leaves it 0 (the CRC32 of the fixed
/// header with a zero checksum field, then of the variable header section).
fn with_checksum(data: &[u8]) -> Option<Vec<u8>> {
    let (start, end) = variable_header_span(data)?;
    // a version 2 fixed header is 32 bytes: architecture and page size after the checksum
    let fixed = if field(data, 4) >= 2 { 32 } else { FIXED_HEADER_SIZE };
    if field(data, CHECKSUM_FIELD) != 0 || start < fixed as u64 || end > data.len() as u64 {
        return None;
    }
    let headers = start as usize..end as usize;
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(data.get(..fixed)?);
    hasher.update(&data[headers]);
    let mut copy = data.to_vec();
    copy[CHECKSUM_FIELD..CHECKSUM_FIELD + 4].copy_from_slice(&hasher.finalize().to_le_bytes());
    Some(copy)
}

/// Read a buffer the way C does (pointer and size), copy it as QEMU copies page data, free
/// it; the copy's first byte, so that the copy is not optimised away.
fn read_buffer(file: i32, buffer: i32) -> u8 {
    if buffer <= 0 {
        return 0;
    }
    let size = igvm_get_buffer_size(file, buffer);
    // SAFETY: igvm_get_buffer returns the start of the handle's buffer of `size` bytes.
    let data = unsafe { igvm_get_buffer(file, buffer) };
    assert!(size >= 0 && !data.is_null(), "buffer {buffer}: size {size}");
    // SAFETY: as above; the buffer lives until igvm_free_buffer.
    let bytes = unsafe { std::slice::from_raw_parts(data, size as usize) };
    let first = std::hint::black_box(bytes.to_vec()).first().copied().unwrap_or(0);
    igvm_free_buffer(file, buffer);
    first
}

fn walk_headers(file: i32) -> u8 {
    let mut sum = 0u8;
    for section in SECTIONS {
        let count = igvm_header_count(file, section);
        assert!(count >= 0, "header count {count}");
        for index in 0..count as u32 {
            let kind = igvm_get_header_type(file, section, index);
            assert!(kind >= 0, "header {index}: type {kind}");
            sum ^= read_buffer(file, igvm_get_header(file, section, index));
            if section != IgvmHeaderSection::HEADER_SECTION_PLATFORM {
                sum ^= read_buffer(file, igvm_get_header_data(file, section, index));
            }
        }
    }
    sum
}

fn load(data: &[u8]) {
    let Ok(len) = u32::try_from(data.len()) else {
        return;
    };
    // SAFETY: data is len bytes long.
    let file = unsafe { igvm_new_from_binary(data.as_ptr(), len) };
    if file > 0 {
        std::hint::black_box(walk_headers(file));
        igvm_free(file);
    }
}

/// libFuzzer's coverage report (`-print_full_coverage=1`) asks a sanitizer runtime to
/// describe each PC; there is none here, so every description is the PC in hex, which
/// `addr2line` turns into a function and a crate (docs/fuzzing.md, "libigvm").
///
/// # Safety
/// libFuzzer passes a buffer of `size` bytes.
#[no_mangle]
pub unsafe extern "C" fn __sanitizer_symbolize_pc(
    pc: usize,
    _format: *const std::ffi::c_char,
    out: *mut u8,
    size: usize,
) {
    write_c_string(&format!(" {pc:#x}"), out, size);
}

/// The module of a PC (the one binary) and its offset in it: libFuzzer's report names it.
///
/// # Safety
/// libFuzzer passes a buffer of `size` bytes and a place for the offset.
#[no_mangle]
pub unsafe extern "C" fn __sanitizer_get_module_and_offset_for_pc(
    pc: usize,
    module: *mut u8,
    size: usize,
    offset: *mut usize,
) -> i32 {
    write_c_string(env!("CARGO_BIN_NAME"), module, size);
    *offset = pc;
    1
}

unsafe fn write_c_string(text: &str, out: *mut u8, size: usize) {
    if size == 0 {
        return;
    }
    let length = text.len().min(size - 1);
    std::ptr::copy_nonoverlapping(text.as_ptr(), out, length);
    *out.add(length) = 0;
}

fuzz_target!(|data: &[u8]| {
    if guarded() && !passes_guard(data) {
        return;
    }
    match with_checksum(data) {
        Some(repaired) => load(&repaired),
        None => load(data),
    }
});
