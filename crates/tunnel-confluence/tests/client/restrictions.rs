//! Reading a page's restrictions and making it private (issue 17 item 6), against the
//! emulator's content restriction API — and that a second user is then locked out.

use confluence_emulator::restrictions::Operation;
use tunnel_confluence::{Audience, ConfluenceClient};
use tunnel_core::remote::{RemoteError, RemoteStore};

use crate::{basic, builder, client, settings, PAGE, USER};

fn as_user(emu: &confluence_emulator::EmulatorHandle, user: &str, pw: &str) -> ConfluenceClient {
    ConfluenceClient::new(settings(&emu.base_url(), basic(user, pw))).expect("client")
}

#[tokio::test]
async fn an_unrestricted_page_is_visible_to_the_space_until_made_private() {
    let emu = builder()
        .user("carol", "cpw")
        .spawn()
        .await
        .expect("emulator");
    let me = client(&emu);
    let carol = as_user(&emu, "carol", "cpw");
    let access = me.page_access(PAGE).await.expect("restrictions read");
    assert_eq!(
        access.viewers(USER),
        Audience::Space,
        "no restriction: everyone with space access may view"
    );
    assert!(!access.is_private_to(USER));
    carol
        .store(PAGE)
        .probe()
        .await
        .expect("carol, a user of the space, sees the page before");

    let user = me.current_user().await.expect("who am I");
    let now = me.make_private(PAGE, &user).await.expect("made private");
    assert!(now.is_private_to(USER), "read back: {now:?}");
    let on_server = emu.restrictions(PAGE);
    assert_eq!(
        on_server.read.users.iter().collect::<Vec<_>>(),
        vec![USER],
        "view restricted to the user alone"
    );
    assert_eq!(
        on_server.update.users.iter().collect::<Vec<_>>(),
        vec![USER],
        "edit restricted to the user alone"
    );
    let err = carol
        .store(PAGE)
        .probe()
        .await
        .expect_err("carol locked out");
    assert!(
        matches!(err, RemoteError::NotFound(_)),
        "Confluence hides a page from those outside its read restriction: {err:?}"
    );
    me.store(PAGE)
        .probe()
        .await
        .expect("the user still reaches the page");
}

#[tokio::test]
async fn others_named_in_restrictions_are_reported() {
    let emu = builder()
        .user("carol", "cpw")
        .restrict(PAGE, Operation::Read, USER)
        .restrict(PAGE, Operation::Read, "carol")
        .restrict_group(PAGE, Operation::Update, "devs")
        .spawn()
        .await
        .expect("emulator");
    let access = client(&emu).page_access(PAGE).await.expect("read");
    assert_eq!(
        access.viewers(USER),
        Audience::Listed {
            users: vec!["carol".into()],
            groups: vec![]
        }
    );
    assert_eq!(
        access.editors(USER),
        Audience::Listed {
            users: vec![],
            groups: vec!["devs".into()]
        }
    );
    assert_eq!(access.viewers(USER).describe(), "carol");
}

#[tokio::test]
async fn a_user_who_may_not_edit_cannot_make_the_page_private() {
    let emu = builder()
        .user("carol", "cpw")
        .restrict(PAGE, Operation::Update, "carol")
        .spawn()
        .await
        .expect("emulator");
    let err = client(&emu)
        .make_private(PAGE, USER)
        .await
        .expect_err("refused");
    assert!(
        matches!(err, RemoteError::Permission(ref m) if m.contains("may not change who may view")),
        "a plain permission error: {err:?}"
    );
    assert!(
        emu.restrictions(PAGE).read.users.is_empty(),
        "nothing changed on the server"
    );
}
