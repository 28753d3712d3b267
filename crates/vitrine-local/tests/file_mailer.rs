//! `FileMailer` writes what `vitrine_testkit::mail::read_mail_folder` reads back, accents and all.

use vitrine_app::ports::mailer::{Email, MailError, Mailer};
use vitrine_local::mail::FileMailer;
use vitrine_testkit::mail::{assert_attachments, read_mail_folder, sample_attachments};

fn email(to: &str, subject: &str, text: &str, html: Option<&str>) -> Email {
    Email {
        to: to.into(),
        subject: subject.into(),
        text: text.into(),
        html: html.map(Into::into),
        idempotency_key: None,
        attachments: vec![],
    }
}

#[tokio::test]
async fn messages_with_portuguese_accents_round_trip_through_the_mail_folder() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = FileMailer::open(
        dir.path().join("mail"),
        "Loja Vitrine São João <nao-responda@vitrine.example>",
    )
    .unwrap();
    let text = "Olá, Conceição!\n\nSeu código de confirmação é 482913.\nAté já — equipe ação & promoção = 100% ✓\n";
    let html =
        "<p>Olá, <b>Conceição</b>!</p>\n<p>Seu código de confirmação é <code>482913</code>.</p>";
    let long_subject = "Confirmação do pedido nº 2025-0001: pagamento aprovado, preparação em andamento, \
                        entrega prevista para sábado — São Paulo";
    let long_line = format!("{}fim", "ãé ".repeat(60));

    mailer
        .send(email(
            "conceicao@example.com.br",
            "Código de confirmação",
            text,
            None,
        ))
        .await
        .unwrap();
    mailer
        .send(email(
            "joao@example.com",
            long_subject,
            &long_line,
            Some(html),
        ))
        .await
        .unwrap();
    let plain_subject =
        "A plain ASCII subject long enough that the mailer has to fold it over two lines";
    mailer
        .send(email(
            "ana@example.com",
            plain_subject,
            "plain\r\nCRLF text",
            None,
        ))
        .await
        .unwrap();

    let received = read_mail_folder(&dir.path().join("mail"));
    assert_eq!(received.len(), 3);

    assert_eq!(received[0].to, "conceicao@example.com.br");
    assert_eq!(received[0].subject, "Código de confirmação");
    assert_eq!(received[0].text, text);
    assert_eq!(received[0].html, None);

    assert_eq!(received[1].to, "joao@example.com");
    assert_eq!(received[1].subject, long_subject);
    assert_eq!(received[1].text, long_line);
    assert_eq!(received[1].html.as_deref(), Some(html));

    assert_eq!(received[2].subject, plain_subject);
    assert_eq!(
        received[2].text, "plain\nCRLF text",
        "line breaks come back as \\n"
    );

    // What a test would do with a confirmation e-mail.
    let code: String = received[0]
        .text
        .split("é ")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(code, "482913");

    // Each file is a plain 7-bit RFC 5322 message that any mail client opens.
    let raw = std::fs::read(&received[1].path).unwrap();
    assert!(
        raw.is_ascii(),
        "headers and quoted-printable bodies are 7-bit"
    );
    let raw = String::from_utf8(raw).unwrap();
    for header in [
        "From: ",
        "To: ",
        "Subject: ",
        "Date: ",
        "Message-ID: <",
        "MIME-Version: 1.0",
    ] {
        assert!(
            raw.contains(&format!("\r\n{header}")) || raw.starts_with(header),
            "{header}"
        );
    }
    assert!(raw.contains("multipart/alternative"));
    for mail in &received {
        let raw = std::fs::read_to_string(&mail.path).unwrap();
        assert!(
            raw.split("\r\n").all(|line| line.len() <= 78),
            "lines stay short in {raw}"
        );
    }
}

#[tokio::test]
async fn a_missing_mail_folder_reads_as_empty_and_a_refused_message_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    assert!(read_mail_folder(&dir.path().join("nowhere")).is_empty());
    let mailer = FileMailer::open(dir.path(), "loja@vitrine.example").unwrap();
    let injected = email(
        "a@example.com\r\nBcc: everyone@example.com",
        "Oi",
        "x",
        None,
    );
    assert!(matches!(
        mailer.send(injected).await,
        Err(MailError::Invalid(_))
    ));
    assert!(read_mail_folder(dir.path()).is_empty());
}

#[tokio::test]
async fn keyed_and_keyless_messages_read_back_in_sending_order() {
    use std::sync::Arc;
    use vitrine_app::ports::clock::ManualClock;
    use vitrine_domain::Timestamp;

    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_751_367_157_000)));
    let mailer = FileMailer::open(dir.path(), "loja@vitrine.example")
        .unwrap()
        .with_clock(clock.clone());
    let keyed = |subject: &str, key: &str| Email {
        idempotency_key: Some(key.into()),
        attachments: vec![],
        ..email("ana@example.com", subject, "x", None)
    };
    let paid = "01JZ0000000000000000000000.order-paid-mail";

    // Key names ("01J…") sort before millis names ("1751…"), so names alone would misorder.
    mailer
        .send(email("ana@example.com", "primeira", "x", None))
        .await
        .unwrap();
    clock.advance_secs(1);
    mailer.send(keyed("segunda", paid)).await.unwrap();
    clock.advance_secs(1);
    mailer
        .send(email("ana@example.com", "terceira", "x", None))
        .await
        .unwrap();
    let subjects = |dir: &std::path::Path| -> Vec<String> {
        read_mail_folder(dir)
            .into_iter()
            .map(|m| m.subject)
            .collect()
    };
    assert_eq!(subjects(dir.path()), ["primeira", "segunda", "terceira"]);

    // Sent again: the same file, rewritten, now the latest.
    clock.advance_secs(1);
    mailer.send(keyed("segunda, de novo", paid)).await.unwrap();
    assert_eq!(
        subjects(dir.path()),
        ["primeira", "terceira", "segunda, de novo"]
    );
    let again = read_mail_folder(dir.path()).pop().unwrap();
    assert_eq!(
        again.message_id.as_deref(),
        Some("<01JZ0000000000000000000000.order-paid-mail@vitrine.example>")
    );
    assert!(again.path.ends_with(format!("{paid}.eml")));
}

#[tokio::test]
async fn attachments_round_trip_byte_for_byte_after_the_text() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = FileMailer::open(dir.path(), "Loja <loja@vitrine.example>").unwrap();
    let files = sample_attachments();
    let text = "Olá! A nota fiscal segue anexa.\n";
    for html in [Some("<p>Olá! A nota fiscal segue anexa.</p>"), None] {
        mailer
            .send(Email {
                attachments: files.clone(),
                ..email("ana@example.com", "Nota fiscal emitida", text, html)
            })
            .await
            .unwrap();
    }

    let mails = read_mail_folder(dir.path());
    assert_eq!(mails.len(), 2);
    for mail in &mails {
        assert_eq!(mail.text, text);
        assert_attachments(mail, &files);
        let raw = std::fs::read_to_string(&mail.path).unwrap();
        assert!(raw.contains("Content-Type: multipart/mixed;"), "{raw}");
        assert!(
            raw.contains(
                "Content-Disposition: attachment;\r\n \
                 filename=\"NFe35250100000000000100550010000000011000000010.xml\""
            ),
            "{raw}"
        );
        // The text comes first, the files after it.
        let text_at = raw.find("Content-Type: text/plain").unwrap();
        assert!(text_at < raw.find("Content-Type: application/pdf").unwrap());
        assert!(raw.lines().all(|l| l.len() <= 78), "{raw}");
    }
    assert_eq!(
        mails[0].html.as_deref(),
        Some("<p>Olá! A nota fiscal segue anexa.</p>")
    );
    assert_eq!(mails[1].html, None);
}

#[tokio::test]
async fn a_bad_attachment_name_or_an_oversized_message_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = FileMailer::open(dir.path(), "loja@vitrine.example").unwrap();
    let mut bad = sample_attachments();
    bad[0].filename = "../../etc/DANFE.pdf".into();
    let mut big = sample_attachments();
    big[0].bytes = bytes::Bytes::from(vec![0u8; 8 * 1024 * 1024]);
    for attachments in [bad, big] {
        let result = mailer
            .send(Email {
                attachments,
                ..email("ana@example.com", "x", "x", None)
            })
            .await;
        assert!(matches!(result, Err(MailError::Invalid(_))), "{result:?}");
    }
    assert!(read_mail_folder(dir.path()).is_empty());
}
