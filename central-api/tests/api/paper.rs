//! The paper notice for the post: one A4 page that Poppler reads as the notice's Vietnamese
//! text — what was seen, the provision, by when to answer, no amount — and whose QR code, as
//! ZBar reads it off the rendered page, leads to the notice in the portal. Printing is for the
//! roles that handle cases, and each print is in the audit trail.

use std::process::Command;

use axum::http::StatusCode;
use central_api::auth::Role;

use crate::{
    helpers::{TestDb, audit_actions, on_both_engines},
    review::world,
};

/// Runs `program` with `args`; its standard output.
fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} (make deps installs it): {e}"));
    assert!(
        out.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn a_notice_prints_on_one_a4_page_with_its_code_to_the_portal(t: &TestDb) {
    let w = world(t).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let url = |id: &str| format!("/api/v1/violations/{id}/notice.pdf");
    let pending = w.pending("51F12345").await;
    let (status, _) = w.call(reviewer.get(&url(&pending.to_string()))).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "no notice before the confirmation"
    );

    let (id, fine_id, _) = w.confirmed(&reviewer).await;
    let auditor = w.sign_in(Role::Auditor).await;
    let (status, _) = w.call(auditor.get(&url(&id.to_string()))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, headers, pdf) = w.call_bytes(reviewer.get(&url(&id.to_string()))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/pdf");
    assert!(pdf.starts_with(b"%PDF-"));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notice.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let path = file.to_str().unwrap();
    let info = run("pdfinfo", &[path]);
    assert!(info.contains("Pages:           1"), "{info}");
    assert!(info.contains("595 x 842 pts (A4)"), "{info}");
    let text = run("pdftotext", &["-layout", path, "-"]);
    for shown in [
        "THÔNG BÁO",
        "Vi phạm hành chính về trật tự, an toàn giao thông đường bộ",
        "PHÒNG CẢNH SÁT GIAO THÔNG",
        "Kính gửi: Nguyễn Văn An",
        "51F-123.45",
        "Không chấp hành hiệu lệnh của đèn tín hiệu giao thông",
        "Điểm b khoản 9 Điều 6 Nghị định số 168/2024/NĐ-CP",
        "Thời hạn đến giải quyết",
        "không phải là quyết định xử phạt",
    ] {
        assert!(text.contains(shown), "{shown} in:\n{text}");
    }
    assert!(
        !text.contains('₫') && !text.contains("19.000.000"),
        "no amount:\n{text}"
    );

    // The code, read off the page as a phone would see it printed.
    let png = dir.path().join("page");
    run(
        "pdftoppm",
        &[
            "-r",
            "150",
            "-png",
            "-singlefile",
            path,
            png.to_str().unwrap(),
        ],
    );
    let read = run(
        "zbarimg",
        &["--raw", "-q", &format!("{}.png", png.display())],
    );
    assert_eq!(
        read.trim(),
        format!("http://127.0.0.1:8090/fines/{fine_id}")
    );

    let (_, one) = w
        .call(reviewer.get(&format!("/api/v1/violations/{id}")))
        .await;
    assert!(audit_actions(&one).contains(&"notice.printed"), "{one}");
    let printed = one["audit"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "notice.printed")
        .unwrap();
    assert!(
        printed["actor"].as_str().unwrap().starts_with("officer:"),
        "the officer who printed it, named as every officer is: {printed}"
    );
}

on_both_engines!(a_notice_prints_on_one_a4_page_with_its_code_to_the_portal);
