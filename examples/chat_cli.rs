//! An interactive terminal chat against a running `talkjs-emulator` (or TalkJS): pick a
//! conversation, see its history and new messages as they arrive, type a line to send it, see
//! who is typing. Try it in two terminals:
//!
//! ```text
//! cargo run -p talkjs-emulator                        # terminal 1: the server
//! cargo run --example chat_cli -- --user alice        # terminal 2: /open trip, /add bob, hi!
//! cargo run --example chat_cli -- --user bob          # terminal 3: /list, /open 1, hello
//! ```
//!
//! Options: `--host HOST:PORT` (default `127.0.0.1:8787`), `--app ID` (default `demo`),
//! `--user ID` (required), `--name NAME` (default: the user id), `--secret KEY` (when the
//! emulator runs with `--secret`: sign the user's tokens with it, as your backend would).
//!
//! Commands: `/list`, `/open <number or id>` (an unknown id starts a new conversation),
//! `/add <user id>`, `/typing`, `/quit`; any other line is sent to the open conversation. A
//! terminal hands a line over only on Enter, so `/typing` is how others see you typing.
//!
//! It reads commands until `/quit` or the end of its input, so a script can pipe them in.

use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::sync::{Arc, Mutex};

use talkjs::params::{CreateConversationParams, CreateParticipantParams, CreateUserParams};
use talkjs::snapshot::MessageSnapshot;
use talkjs::token::JwtSigner;
use talkjs::{
    ConversationListSubscription, ConversationRef, MessageSubscription, TalkSession,
    TypingSubscription,
};
use tokio::io::{AsyncBufReadExt, BufReader};

const USAGE: &str =
    "usage: chat_cli --user ID [--host HOST:PORT] [--app ID] [--name NAME] [--secret KEY]";

#[actix_rt::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse()?;
    let mut session = talkjs::get_talk_session(&args.app, &args.user).host(&args.host);
    if let Some(secret) = &args.secret {
        session = session.token_provider(JwtSigner::new(secret));
    }
    let session = session.await?;
    session
        .current_user()
        .create_if_not_exists(CreateUserParams::new(&args.name))
        .await?;
    let inbox = session.subscribe_conversations(Default::default());
    inbox.connected().await?;
    println!("Signed in as {} to {}.", args.name, args.host);
    println!("Commands: /list, /open <number or id>, /add <user id>, /typing, /quit");
    list(&inbox);
    let open_id = Arc::new(Mutex::new(String::new()));
    notify_new_messages(&inbox, &args.user, open_id.clone());

    let mut chat = Chat {
        session,
        inbox,
        open: None,
        open_id,
    };
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        if line.trim() == "/quit" {
            break;
        }
        if let Err(e) = chat.command(&line).await {
            println!("! {e}");
        }
    }
    // Dropping the subscriptions unsubscribes them.
    println!("Bye.");
    Ok(())
}

/// The chat's state between commands.
struct Chat {
    session: TalkSession,
    inbox: ConversationListSubscription,
    open: Option<OpenChat>,
    /// The open conversation's id, for the new-message notifications.
    open_id: Arc<Mutex<String>>,
}

impl Chat {
    /// Runs one line of input.
    async fn command(&mut self, line: &str) -> Result<(), Box<dyn Error>> {
        let (command, arg) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
        let arg = arg.trim();
        match (command, &self.open) {
            ("", _) => {}
            ("/list", _) => list(&self.inbox),
            ("/open", _) => {
                // Replacing the open chat drops its subscriptions, which unsubscribes them.
                let open = OpenChat::open(&self.session, &self.inbox, arg).await?;
                *self.open_id.lock().unwrap() = open.chat.id().to_owned();
                self.open = Some(open);
            }
            ("/add", Some(open)) => open.add(arg).await?,
            ("/typing", Some(open)) => open.chat.mark_as_typing().await?,
            (unknown, _) if unknown.starts_with('/') && !matches!(unknown, "/add" | "/typing") => {
                return Err(format!("unknown command {unknown}").into());
            }
            (_, None) => {
                return Err("open a conversation first: /list, /open <number or id>".into());
            }
            (_, Some(open)) => {
                open.chat.send(line).await?;
            }
        }
        Ok(())
    }
}

/// Prints the conversation list, numbered for `/open`.
fn list(inbox: &ConversationListSubscription) {
    let conversations = inbox.latest().flatten().unwrap_or_default();
    if conversations.is_empty() {
        println!("No conversations yet: /open <id> starts one.");
    }
    for (n, c) in conversations.iter().enumerate() {
        let subject = c.subject.as_deref().unwrap_or(&c.id);
        let last = c.last_message.as_deref().map(line).unwrap_or_default();
        println!(
            "{}. {subject} ({} unread) {last}",
            n + 1,
            c.unread_message_count
        );
    }
}

/// Prints a line for each new message from others in a conversation that is not open.
fn notify_new_messages(inbox: &ConversationListSubscription, me: &str, open: Arc<Mutex<String>>) {
    let me = me.to_owned();
    // Each conversation's last message; the first snapshot is what was there before.
    let mut last_seen = HashMap::new();
    let mut first = true;
    inbox.on_snapshot(move |list, _| {
        for c in list.iter().flat_map(|l| l.iter()) {
            let Some(message) = &c.last_message else {
                continue;
            };
            let seen = last_seen.insert(c.id.clone(), message.id.clone());
            let new = seen.as_ref() != Some(&message.id);
            let from_others = message.sender.as_ref().is_some_and(|u| u.id != me);
            if new && from_others && !first && *open.lock().unwrap() != c.id {
                let subject = c.subject.as_deref().unwrap_or(&c.id);
                println!("(new in {subject}) {}", line(message));
            }
        }
        first = false;
    });
}

/// A message as one line: `<sender name>: <plaintext>`.
fn line(message: &MessageSnapshot) -> String {
    let sender = message.sender.as_ref().map_or("(system)", |u| &u.name);
    format!("{sender}: {}", message.plaintext.trim_end())
}

/// The open conversation, with its live messages and typing indicator.
struct OpenChat {
    chat: ConversationRef,
    _messages: MessageSubscription,
    _typing: TypingSubscription,
}

impl OpenChat {
    /// Opens conversation number `which` of the list, or the one with id `which` (made if it
    /// does not exist), and prints its history.
    async fn open(
        session: &TalkSession,
        inbox: &ConversationListSubscription,
        which: &str,
    ) -> Result<OpenChat, Box<dyn Error>> {
        let listed = inbox.latest().flatten().unwrap_or_default();
        let chat = match which.parse::<usize>() {
            Ok(n) => match listed.get(n.wrapping_sub(1)) {
                Some(c) => session.conversation(&c.id),
                None => return Err(format!("there is no conversation {n} in /list").into()),
            },
            Err(_) if which.is_empty() => return Err("/open <number or id>".into()),
            Err(_) => {
                let chat = session.conversation(which);
                chat.create_if_not_exists(CreateConversationParams::new())
                    .await?;
                chat
            }
        };

        let messages = chat.subscribe_messages();
        let Some(history) = messages.connected().await?.snapshot else {
            return Err(format!("you are not in {}", chat.id()).into());
        };
        println!("--- {} ---", chat.id());
        // History, then each new message once (snapshots repeat the messages already shown).
        let mut shown = HashSet::new();
        show_new(&history, &mut shown);
        messages.on_snapshot(move |list, _| {
            if let Some(list) = list {
                show_new(list, &mut shown);
            }
        });
        chat.mark_as_read().await?;

        let typing = chat.subscribe_typing();
        let mut was_typing = Vec::new();
        typing.on_snapshot(move |typing, _| {
            let names: Vec<String> = typing
                .iter()
                .flat_map(|t| t.users())
                .map(|u| u.name.clone())
                .collect();
            if !names.is_empty() && names != was_typing {
                println!("({} typing...)", names.join(", "));
            }
            was_typing = names;
        });

        Ok(OpenChat {
            chat,
            _messages: messages,
            _typing: typing,
        })
    }

    async fn add(&self, user_id: &str) -> Result<(), Box<dyn Error>> {
        let participant = self.chat.participant(user_id);
        participant
            .create_if_not_exists(CreateParticipantParams::new())
            .await?;
        println!("(added {user_id})");
        Ok(())
    }
}

/// Prints the messages of `list` not shown yet, oldest first.
fn show_new(list: &talkjs::List<MessageSnapshot>, shown: &mut HashSet<String>) {
    for message in list.iter().rev() {
        if shown.insert(message.id.clone()) {
            println!("{}", line(message));
        }
    }
}

/// The command line.
struct Args {
    host: String,
    app: String,
    user: String,
    name: String,
    secret: Option<String>,
}

impl Args {
    fn parse() -> Result<Args, String> {
        let mut args = Args {
            host: "127.0.0.1:8787".into(),
            app: "demo".into(),
            user: String::new(),
            name: String::new(),
            secret: None,
        };
        let mut argv = std::env::args().skip(1);
        while let Some(flag) = argv.next() {
            let value = argv.next().ok_or(USAGE)?;
            match flag.as_str() {
                "--host" => args.host = value,
                "--app" => args.app = value,
                "--user" => args.user = value,
                "--name" => args.name = value,
                "--secret" => args.secret = Some(value),
                _ => return Err(USAGE.into()),
            }
        }
        if args.user.is_empty() {
            return Err(USAGE.into());
        }
        if args.name.is_empty() {
            args.name = args.user.clone();
        }
        Ok(args)
    }
}
