//! Check of exercise 4, lines across chunks: `scripts/workshop check 4`.

mod vectors;

use wirelab_workshop::ex04_lines::Lines;

/// The lines of a whole stream, read in one go: what every way of cutting it must give.
fn whole_lines(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    let mut line = Vec::new();
    let mut i = 0;
    while i < stream.len() {
        match stream[i] {
            b'\r' => {
                lines.push(std::mem::take(&mut line));
                if stream.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => lines.push(std::mem::take(&mut line)),
            b => line.push(b),
        }
        i += 1;
    }
    lines
}

fn yours(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut lines = Lines::new();
    chunks.iter().flat_map(|chunk| lines.push(chunk)).collect()
}

#[test]
fn each_line_end() {
    let expect =
        |lines: &[&str]| -> Vec<Vec<u8>> { lines.iter().map(|l| l.as_bytes().to_vec()).collect() };
    assert_eq!(yours(&[b"a\nb\n"]), expect(&["a", "b"]));
    assert_eq!(yours(&[b"a\r\nb\r\n"]), expect(&["a", "b"]));
    assert_eq!(yours(&[b"a\rb\r"]), expect(&["a", "b"]));
    assert_eq!(yours(&[b"a\n\nb\n"]), expect(&["a", "", "b"]));
    assert_eq!(yours(&[b"a\r\rb\n"]), expect(&["a", "", "b"]));
    // A line not ended is not a line yet.
    assert_eq!(yours(&[b"a\nno end"]), expect(&["a"]));
}

#[test]
fn a_crlf_cut_in_two_is_one_line_end() {
    assert_eq!(
        yours(&[b"data: x\r", b"\ndata: y\n"]),
        [b"data: x".to_vec(), b"data: y".to_vec()]
    );
    // ... but a CR then a LF in a later chunk after more CRs is not.
    assert_eq!(
        yours(&[b"x\r", b"\r", b"\n"]),
        [b"x".to_vec(), b"".to_vec()]
    );
}

#[test]
fn the_spec_vectors_cut_everywhere() {
    for vector in vectors::load() {
        let input = vector.input.as_slice();
        let expected = whole_lines(input);
        assert_eq!(yours(&[input]), expected, "{}: whole", vector.name);
        for cut in 0..=input.len() {
            let (a, b) = input.split_at(cut);
            assert_eq!(yours(&[a, b]), expected, "{}: cut at {cut}", vector.name);
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(yours(&bytes), expected, "{}: a byte at a time", vector.name);
    }
}
