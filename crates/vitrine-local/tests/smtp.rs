//! `SmtpMailer` against a real SMTP server (aiosmtpd, `vitrine_testkit::smtp`), and against a few
//! lines of fake server for the answers aiosmtpd never gives (refusals, silence).

use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;
use vitrine_app::ports::mailer::{Email, MailError, Mailer};
use vitrine_local::smtp::{SmtpMailer, SmtpUrl};
use vitrine_testkit::mail::{assert_attachments, sample_attachments};
use vitrine_testkit::smtp;

const FROM: &str = "Loja São João <nao-responda@vitrine.example>";
const SUBJECT: &str = "Seu pedido nº 1042 foi confirmado — obrigado, Conceição!";
const TEXT: &str =
    "Olá, Conceição!\n\nRecebemos o pagamento de R$ 149,90.\nAção necessária: nenhuma. Até já!\n";
const HTML: &str =
    "<p>Olá, <b>Conceição</b>!</p>\n<p>Recebemos o pagamento de <b>R$ 149,90</b>.</p>\n";

fn mailer(url: &str) -> SmtpMailer {
    SmtpMailer::new(SmtpUrl::parse(url).unwrap(), FROM).unwrap()
}

fn order_mail(key: Option<&str>) -> Email {
    Email {
        to: "conceicao@example.com.br".into(),
        subject: SUBJECT.into(),
        text: TEXT.into(),
        html: Some(HTML.into()),
        idempotency_key: key.map(str::to_owned),
        attachments: vec![],
    }
}

#[tokio::test]
async fn a_portuguese_message_with_html_arrives_whole_over_smtp() {
    let server = smtp::start();
    let key = "01JZ8Q3M7XK2V9T4R6N5P0W1YB.order-paid-mail";

    mailer(&server.url())
        .send(order_mail(Some(key)))
        .await
        .unwrap();

    let received = server.wait_for(1, Duration::from_secs(10));
    assert_eq!(received.len(), 1, "{received:?}");
    let mail = &received[0];
    assert_eq!(mail.to, "conceicao@example.com.br");
    assert_eq!(mail.subject, SUBJECT, "the subject decodes back");
    assert_eq!(mail.text, TEXT);
    assert_eq!(mail.html.as_deref(), Some(HTML));
    assert_eq!(
        mail.message_id.as_deref(),
        Some("<01JZ8Q3M7XK2V9T4R6N5P0W1YB.order-paid-mail@vitrine.example>")
    );
    // The envelope, as aiosmtpd recorded it.
    assert_eq!(mail.headers["x-mailfrom"], "nao-responda@vitrine.example");
    assert_eq!(mail.headers["x-rcptto"], "conceicao@example.com.br");
    assert!(
        mail.headers["from"].contains("<nao-responda@vitrine.example>"),
        "{:?}",
        mail.headers["from"]
    );
}

#[tokio::test]
async fn attachments_arrive_byte_for_byte_after_the_text() {
    let server = smtp::start();
    let mailer = mailer(&server.url());
    let files = sample_attachments();
    let key = "01JZ8Q3M7XK2V9T4R6N5P0W1YD.order-invoiced-mail";
    let with_html = Email {
        attachments: files.clone(),
        ..order_mail(Some(key))
    };
    let plain = Email {
        html: None,
        idempotency_key: None,
        ..with_html.clone()
    };

    mailer.send(with_html).await.unwrap();
    mailer.send(plain).await.unwrap();

    let received = server.wait_for(2, Duration::from_secs(10));
    assert_eq!(received.len(), 2, "{received:?}");
    let (keyed, keyless): (Vec<_>, Vec<_>) = received
        .iter()
        .partition(|m| m.message_id.as_deref().is_some_and(|id| id.contains(key)));
    assert_eq!((keyed.len(), keyless.len()), (1, 1), "{received:?}");
    for mail in [keyed[0], keyless[0]] {
        assert_eq!(mail.text, TEXT);
        assert_attachments(mail, &files);
        assert!(
            mail.headers["content-type"].starts_with("multipart/mixed"),
            "{:?}",
            mail.headers
        );
    }
    assert_eq!(keyed[0].html.as_deref(), Some(HTML));
    assert_eq!(keyless[0].html, None);
}

#[tokio::test]
async fn a_plain_text_message_and_a_resent_one_keep_their_identity() {
    let server = smtp::start();
    let mailer = mailer(&server.url());
    let key = "01JZ8Q3M7XK2V9T4R6N5P0W1YC.order-shipped-mail";
    let plain = Email {
        html: None,
        ..order_mail(Some(key))
    };

    mailer.send(plain.clone()).await.unwrap();
    mailer.send(plain).await.unwrap();
    mailer.send(order_mail(None)).await.unwrap();

    let received = server.wait_for(3, Duration::from_secs(10));
    assert_eq!(received.len(), 3, "{received:?}");
    let ids: Vec<_> = received
        .iter()
        .map(|m| m.message_id.clone().unwrap())
        .collect();
    let keyed = format!("<{key}@vitrine.example>");
    assert_eq!(
        ids.iter().filter(|id| **id == keyed).count(),
        2,
        "SMTP cannot refuse a duplicate, but it is recognisable: {ids:?}"
    );
    let keyless = ids.iter().find(|id| **id != keyed).unwrap();
    assert!(keyless.ends_with("@vitrine.example>"), "{keyless}");
    for mail in received.iter().filter(|m| m.html.is_none()) {
        assert_eq!(mail.text, TEXT);
        assert_eq!(mail.subject, SUBJECT);
    }
}

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The listener is dropped: nothing listens on the port any more.
    let result = mailer(&format!("smtp://127.0.0.1:{port}"))
        .send(order_mail(None))
        .await;
    let Err(MailError::Unavailable(cause)) = result else {
        panic!("{result:?}");
    };
    let cause = format!("{cause:#}");
    assert!(
        !cause.contains("conceicao"),
        "no address in errors: {cause}"
    );
}

/// A fake server that greets, accepts EHLO and MAIL FROM, then answers RCPT TO with `reply`.
async fn refusing_server(reply: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 fake ESMTP\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let command = line.to_ascii_uppercase();
                    let answer = if command.starts_with("EHLO") {
                        "250 fake\r\n".to_owned()
                    } else if command.starts_with("MAIL") {
                        "250 2.1.0 OK\r\n".to_owned()
                    } else if command.starts_with("RCPT") {
                        format!("{reply}\r\n")
                    } else if command.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        "250 OK\r\n".to_owned()
                    };
                    if write.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn a_permanently_refused_recipient_is_invalid_and_a_busy_server_unavailable() {
    let refusing =
        refusing_server("550 5.1.1 <conceicao@example.com.br>: Recipient address rejected").await;
    let result = mailer(&format!("smtp://127.0.0.1:{refusing}"))
        .send(order_mail(None))
        .await;
    let Err(MailError::Invalid(reason)) = result else {
        panic!("{result:?}");
    };
    assert!(reason.contains("550"), "{reason}");
    assert!(
        !reason.contains("conceicao"),
        "the server's text quotes the address; the error must not: {reason}"
    );

    let busy = refusing_server("451 4.3.0 Try again later").await;
    let result = mailer(&format!("smtp://127.0.0.1:{busy}"))
        .send(order_mail(None))
        .await;
    assert!(
        matches!(result, Err(MailError::Unavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_silent_server_times_out_as_unavailable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        // Accept and say nothing, holding the connection open.
        let (_socket, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let started = std::time::Instant::now();
    let result = mailer(&format!("smtp://127.0.0.1:{port}"))
        .with_timeout(Duration::from_millis(300))
        .send(order_mail(None))
        .await;
    assert!(
        matches!(result, Err(MailError::Unavailable(_))),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    silent.abort();
}
