//! How values are printed on the DANFE: CNPJ/CPF/CEP masks, the key in groups of four, the
//! number in groups of three, decimals with a comma, dates in the document's own offset.

/// `12.345.678/0001-95` for 14 characters, `123.456.789-09` for 11, anything else as given.
pub fn tax_id(id: &str) -> String {
    let c: Vec<char> = id.chars().collect();
    let s = |a: usize, b: usize| c[a..b].iter().collect::<String>();
    match c.len() {
        14 => format!(
            "{}.{}.{}/{}-{}",
            s(0, 2),
            s(2, 5),
            s(5, 8),
            s(8, 12),
            s(12, 14)
        ),
        11 => format!("{}.{}.{}-{}", s(0, 3), s(3, 6), s(6, 9), s(9, 11)),
        _ => id.to_owned(),
    }
}

/// `87704-030` for 8 digits, anything else as given.
pub fn cep(cep: &str) -> String {
    if cep.len() == 8 && cep.is_ascii() {
        format!("{}-{}", &cep[..5], &cep[5..])
    } else {
        cep.to_owned()
    }
}

/// The access key in 11 groups of 4 separated by spaces.
pub fn key_groups(key: &str) -> String {
    key.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `nNF` as nine digits grouped by three: `46320` → `000.046.320`.
pub fn number(n_nf: &str) -> String {
    let padded = format!("{:0>9}", n_nf);
    if padded.len() != 9 {
        return n_nf.to_owned();
    }
    format!("{}.{}.{}", &padded[..3], &padded[3..6], &padded[6..])
}

/// `série` as three digits: `1` → `001`.
pub fn series(serie: &str) -> String {
    format!("{:0>3}", serie)
}

/// A schema decimal (`1234.5`, `84.9000000000`) printed with `places` decimals, a comma and
/// thousands dots (`1.234,50`), rounded half away from zero. Text that is not a decimal is
/// returned as given; an empty text stays empty.
pub fn decimal(value: &str, places: usize) -> String {
    let value = value.trim();
    if value.is_empty() {
        return String::new();
    }
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return value.to_owned();
    }
    // Scaled integer of int.frac at `places` decimals, rounded on the next digit.
    let mut scaled: Vec<u8> = int.bytes().map(|b| b - b'0').collect();
    let frac_digits: Vec<u8> = frac.bytes().map(|b| b - b'0').collect();
    for i in 0..places {
        scaled.push(frac_digits.get(i).copied().unwrap_or(0));
    }
    if frac_digits.get(places).is_some_and(|&d| d >= 5) {
        let mut i = scaled.len();
        loop {
            if i == 0 {
                scaled.insert(0, 1);
                break;
            }
            i -= 1;
            if scaled[i] == 9 {
                scaled[i] = 0;
            } else {
                scaled[i] += 1;
                break;
            }
        }
    }
    let split = scaled.len() - places;
    let int_part: String = scaled[..split]
        .iter()
        .map(|d| char::from(b'0' + d))
        .collect();
    let int_part = int_part.trim_start_matches('0');
    let int_part = if int_part.is_empty() { "0" } else { int_part };
    let mut grouped = String::new();
    for (i, ch) in int_part.chars().enumerate() {
        if i > 0 && (int_part.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(ch);
    }
    let frac_part: String = scaled[split..]
        .iter()
        .map(|d| char::from(b'0' + d))
        .collect();
    let all_zero = scaled.iter().all(|&d| d == 0);
    let sign = if negative && !all_zero { "-" } else { "" };
    if places == 0 {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped},{frac_part}")
    }
}

/// Money: two decimals.
pub fn money(value: &str) -> String {
    decimal(value, 2)
}

/// A quantity: up to four decimals, trailing zeros dropped, at least two kept (`1` → `1,00`,
/// `1.2345` → `1,2345`).
pub fn quantity(value: &str) -> String {
    let full = decimal(value, 4);
    match full.split_once(',') {
        Some((int, frac)) => {
            let trimmed = frac.trim_end_matches('0');
            let frac = if trimmed.len() < 2 {
                &frac[..2]
            } else {
                trimmed
            };
            format!("{int},{frac}")
        }
        None => full,
    }
}

/// `2017-07-12T09:45:50-03:00` → (`12/07/2017`, `09:45:50`), in the offset written in the
/// document (the local time of the emitter). Anything else: `None`.
pub fn date_time(value: &str) -> Option<(String, String)> {
    let b = value.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    if b.len() < 19
        || !(digits(0..4) && digits(5..7) && digits(8..10))
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || !(digits(11..13) && digits(14..16) && digits(17..19))
    {
        return None;
    }
    Some((
        format!("{}/{}/{}", &value[8..10], &value[5..7], &value[..4]),
        value[11..19].to_owned(),
    ))
}

/// `dd/mm/aaaa` of an ISO date (`2026-09-20`) or date-time.
pub fn date(value: &str) -> String {
    let b = value.as_bytes();
    let is_date = b.len() >= 10
        && b[..10].iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if is_date {
        format!("{}/{}/{}", &value[8..10], &value[5..7], &value[..4])
    } else {
        value.to_owned()
    }
}

/// The freight mode as printed (`transp/modFrete`).
pub fn freight_mode(mod_frete: &str) -> String {
    let text = match mod_frete {
        "0" => "Por conta do Emit",
        "1" => "Por conta do Dest",
        "2" => "Por conta de Terceiros",
        "3" => "Próprio por conta do Rem",
        "4" => "Próprio por conta do Dest",
        "9" => "Sem Transporte",
        _ => return mod_frete.to_owned(),
    };
    format!("{mod_frete}-{text}")
}

/// A phone number with its area code: `04431414900` → `(44) 3141-4900`, 10 or 11 digits
/// (after a leading 0 is dropped) as `(AA) NNNN-NNNN` / `(AA) NNNNN-NNNN`; anything else as given.
pub fn phone(value: &str) -> String {
    let digits = value.strip_prefix('0').unwrap_or(value);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return value.to_owned();
    }
    match digits.len() {
        10 => format!("({}) {}-{}", &digits[..2], &digits[2..6], &digits[6..]),
        11 => format!("({}) {}-{}", &digits[..2], &digits[2..7], &digits[7..]),
        _ => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(tax_id("06117473000150"), "06.117.473/0001-50");
        assert_eq!(tax_id("12ABC34501DE35"), "12.ABC.345/01DE-35");
        assert_eq!(tax_id("52998224725"), "529.982.247-25");
        assert_eq!(tax_id(""), "");
        assert_eq!(cep("87704030"), "87704-030");
        assert_eq!(number("46320"), "000.046.320");
        assert_eq!(number("999999999"), "999.999.999");
        assert_eq!(series("1"), "001");
        assert_eq!(
            key_groups("41170706117473000150550010000463201612756527"),
            "4117 0706 1174 7300 0150 5500 1000 0463 2016 1275 6527"
        );
        assert_eq!(phone("04431414900"), "(44) 3141-4900");
        assert_eq!(phone("41999887766"), "(41) 99988-7766");
        assert_eq!(phone("1130031234"), "(11) 3003-1234");
        assert_eq!(freight_mode("9"), "9-Sem Transporte");
    }

    #[test]
    fn decimals_use_a_comma_and_thousands_dots_rounding_half_up() {
        assert_eq!(money("84.90"), "84,90");
        assert_eq!(money("1234567.5"), "1.234.567,50");
        assert_eq!(money("0.00"), "0,00");
        assert_eq!(money("999.995"), "1.000,00");
        assert_eq!(money("-3.5"), "-3,50");
        assert_eq!(money(""), "");
        assert_eq!(decimal("84.9000000000", 4), "84,9000");
        assert_eq!(decimal("2.4199", 2), "2,42");
        assert_eq!(quantity("1"), "1,00");
        assert_eq!(quantity("1.0000"), "1,00");
        assert_eq!(quantity("2.5"), "2,50");
        assert_eq!(quantity("1.2345"), "1,2345");
        assert_eq!(money("abc"), "abc");
    }

    #[test]
    fn date_and_time_stay_in_the_documents_offset() {
        assert_eq!(
            date_time("2017-07-12T09:45:50-03:00"),
            Some(("12/07/2017".into(), "09:45:50".into()))
        );
        assert_eq!(date_time("2017-07-12"), None);
        assert_eq!(date("2026-09-20"), "20/09/2026");
        assert_eq!(
            date("2026-09-2é"),
            "2026-09-2é",
            "not a date: as written, no panic"
        );
        assert_eq!(date_time("2017-07-1éT09:45:50"), None);
    }
}
