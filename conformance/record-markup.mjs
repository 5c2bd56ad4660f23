// Records how the official TalkJS client (@talkjs/core, the oracle) turns markup strings into
// message content, and how it derives the `plaintext` of received content. Writes the fixtures that
// protocol/tests/markup.rs and protocol/tests/plaintext.rs compare the Rust implementation with:
//
//   protocol/tests/fixtures/markup/send.json       [{input, children} | {input, error}]  conversation.send(input)
//   protocol/tests/fixtures/markup/edit.json       same, for message.edit(input) (the full parser)
//   protocol/tests/fixtures/markup/plaintext.json  [{content, plaintext}]  MessageSnapshot.plaintext
//   protocol/tests/fixtures/markup/sweeps.json     character classes measured by one message per class
//
// Run from conformance/:  node record-markup.mjs   (needs `npm ci` first; takes a few seconds)
//
// Only black-box observations are recorded: strings go in through the public API and the frames the
// client sends to the recording stub come out.

import fs from "node:fs";
import path from "node:path";
import { domainToASCII, fileURLToPath } from "node:url";
import { startStub, newSession, settle, messageWire } from "./lib/stub.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.join(here, "..", "protocol", "tests", "fixtures", "markup");

// ---------------------------------------------------------------------------------------------
// Hand-written inputs. Each group targets one rule of the markup pipeline (notes §7) and its edges.

const HAND_WRITTEN = [
  // notes §7.4 examples, basics and emphasis edge cases
  "plain text",
  "*bold* _italic_ ~strike~",
  "*_bold italic_*",
  "a*b*c snake_case_word 2*3*4",
  "*bold with space *",
  "* not bold*",
  "(*paren bold*)",
  "*a* *b*",
  "**double**",
  "*bold across\nlines*",
  "intro\n* star item\n+ plus item\nafter",
  "  - indented item",
  "-not a bullet",
  "```code *not bold* https://x.com```",
  "`single backtick`",
  "visit www.example.com or https://example.com/path?q=1#f.",
  "mail me@example.org now",
  "call +1 (555) 123-4567 or 0612345678",
  "years 2020-2021 and 1999-1990 time 10.30-11.45",
  "*<!!mention:bob|Bob>*",
  "*https://bold.link*",
  "<https://a.com|label> and <mailto:x@y.z|mail>",
  "<actionlink:doThing?a=1&b=2|Click> <actionbutton:btn|Press>",
  "",
  "x",
  "*",
  "**",
  "***",
  "*a*",
  "_a_",
  "~a~",
  "*ab*",
  "* a*",
  "*a *",
  "a *b* c",
  "a*b* c",
  "a *b*c",
  "*b*.",
  "*b*,x",
  "x,*b*",
  "x.*b*",
  "x\t*b*\tx",
  "*b*\n*c*",
  "line\n*b*\nline",
  "*_~all~_*",
  "*a _b_ c*",
  "*a *b* c*",
  "_a *b* c_",
  "~a_b_c~",
  "_*a*_",
  "*a_*",
  "*_a*_",
  "x *été* y",
  "*日本*",
  "*😀*",
  "😀*x*😀",
  "a🎉*b*",
  "\u00a0*b*\u00a0",
  "*b*\u00a0",
  // emphasis: boundary characters before and after markers, whitespace kinds
  "_*a_*",
  "x *a*,*b* y",
  "*a* _b_",
  "_a_ _b_",
  "https://a.com/_x_ y",
  "https://a.com/*x* y",
  "see https://a.com/a_b_c ok",
  "*a* b *c*",
  "*a*b*",
  "*a**b*",
  "*ab**",
  "**ab*",
  "*a*\u00a0",
  "\u00a0*b*",
  "a *b*! c",
  "a *b*? c",
  "a (*b*) c",
  "a [*b*] c",
  "a {*b*} c",
  "a \"*b*\" c",
  "a '*b*' c",
  "a “*b*” c",
  "a «*b*» c",
  "a =*b*= c",
  "a +*b*+ c",
  "a *b*= c",
  "a =*b* c",
  "a `*b*` c",
  "a $*b*$ c",
  "a %*b*% c",
  "a #*b*# c",
  "a ^*b*^ c",
  "a &*b*& c",
  "a @*b*@ c",
  "a \\*b*\\ c",
  "a |*b*| c",
  "a ¦*b*¦ c",
  "a ※*b*※ c",
  "a ‽*b*‽ c",
  "a ☞*b*☞ c",
  "a >*b*> c",
  "a <*b*< c",
  "a ;*b*; c",
  "a :*b*: c",
  "a !*b*! c",
  "a ?*b*? c",
  "a .*b*. c",
  "a ,*b*, c",
  "a -*b*- c",
  "a /*b*/ c",
  "a ⁄*b*⁄ c",
  "a ␠*b*␠ c",
  "a ·*b*· c",
  "a •*b*• c",
  "a ¤*b*¤ c",
  "a ¢*b*¢ c",
  "a €*b*€ c",
  "a £*b*£ c",
  "a ¥*b*¥ c",
  "a ₩*b*₩ c",
  "a ₪*b*₪ c",
  "a †*b*† c",
  "a ‡*b*‡ c",
  "a °*b*° c",
  "a ¡*b*¡ c",
  "a ¿*b*¿ c",
  "a ¬*b*¬ c",
  "a №*b*№ c",
  "a ‰*b*‰ c",
  "a ‱*b*‱ c",
  "a ¶*b*¶ c",
  "a ′*b*′ c",
  "a §*b*§ c",
  "a ~*b*~ c",
  "a ¨*b*¨ c",
  "a _*b*_ c",
  "a ⁂*b*⁂ c",
  "a ∴*b*∴ c",
  "a ‒*b*‒ c",
  "a –*b*– c",
  "a —*b*— c",
  "a ―*b*― c",
  "a …*b*… c",
  "a ‐*b*‐ c",
  "a ‘*b*‘ c",
  "a ’*b*’ c",
  "a ”*b*” c",
  "a *b*\u2028 c",
  "a\u2003*b*\u2003c",
  "a\r*b*\rc",
  "a\u000b*b*\u000bc",
  "a\f*b*\fc",
  "a\ufeff*b*\ufeffc",
  "a\u3000*b*\u3000c",
  "a\u200b*b*\u200bc",
  "a\u0085*b*\u0085c",
  "a\u180e*b*\u180ec",
  // nesting, line breaks, bullets, code spans, mentions
  "*a\rb*",
  "*a\u2028b*",
  "*a\u2029b*",
  "*a\u0085b*",
  "*a*\r\n*b*",
  "a<!!mention:x|X>*b* c",
  "```x```*b* c",
  "a<!!customemoji:cat>*b* c",
  "*a _b *c* d_ e*",
  "_a *b _c_ d* e_",
  "~a *b ~c~ d* e~",
  "*a ~b _c_ d~ e*",
  "x\n- a\n- b",
  "x\n- a\n- b\n",
  "- a\n- b\ny",
  "- a\n\n- b",
  "- a\n  - b\n    - c",
  "-  a",
  "- ",
  "-",
  "- \n- b",
  "* a\n* b",
  "+ a",
  "+a",
  "\t- a",
  "-\ta",
  "- a\r\n- b\r\n",
  "a\n\n- b\n\nc",
  "```a\n- b\n- c```",
  "- ```a\n- b```",
  "```a```",
  "``````",
  "```a``` ```b```",
  "````a````",
  "```a`b```",
  "``` a ```",
  "```\na\n```",
  "x```a```y",
  "```<!!mention:bob|Bob> <!!customemoji:cat>```",
  "```<!!mention:a%2Fb|A B>```",
  "```*b* _i_```",
  "```a\n\nb```",
  "```a",
  "a```",
  "```",
  "```a``````b```",
  "<!!mention:user%2F1|Name>",
  "<!!mention:bad%zz|Name>",
  "<!!mention:a|>",
  "<!!mention:|A>",
  "<!!mention:a|b|c>",
  "<!!mention:a b|C D>",
  "<!!customemoji:>",
  "<!!customemoji:cat dog>",
  "<!!customemoji::cat:>",
  "<!!customemoji:a|b>",
  "<!!mention:a\nb|C>",
  "<!!mention:bob|Bob>x",
  "x<!!mention:bob|Bob>",
  "<!!MENTION:bob|Bob>",
  "<!!customemoji:😀>",
  // mentions, custom emoji, bullet lists
  "<!!mention:a|b> <!!mention:c|d>",
  "<!!mention:a<b|c>",
  "<!!mention:a|b<c>",
  "<!!mention:a|b>c>",
  "<!!customemoji:a>b>",
  "<!!mention:a|<!!customemoji:x>>",
  "```<!!mention:a|>```",
  "```<!!mention:bad%zz|N>```",
  "```<!!customemoji:>```",
  "```<!!mention:a|b|c>```",
  "- a\rb\n- c",
  "x - a",
  "- a\n-b",
  "- *a*",
  "-- a",
  "- - a",
  "* *a*",
  "1. a",
  "- a\n- ",
  "x\n  \n- a",
  "a\n\n\n- b",
  "- a b  ",
  "- a\n\n\nb",
  "- a\n \nb",
  "  *  a",
  "+ a +",
  "• a",
  "– a",
  "- a\n  continuation",
  "- a\n\n",
  "\n- a",
  "\n\n- a",
  "x\n- a\ny\n- b\nz",
  "- <!!mention:bob|Bob>",
  "- https://x.com",
  "- a ```b``` c",
  "```- a```",
  "```x\n- a```",
  "a\n```\n- b\n```",
  // formatted links and action links/buttons (edit profile; send keeps them as text)
  "<!!mention:a>b|c>",
  "```<!!mention:a b|C>```",
  "```<!!mention:a\nb|C>```",
  "```<!!mention:a|b\nc>```",
  "```<!!customemoji:a\nb>```",
  "```<!!mention:a|B><!!mention:c|D>```",
  "<https://a.com|>",
  "<https://a.com|a|b>",
  "<https://a.com>",
  "<HTTPS://A.COM|x>",
  "<Http://a.com|x>",
  "<ftp://a.com|x>",
  "<mailto:|x>",
  "<http:|x>",
  "<https://a.com x|label>",
  "<https://a.com|*bold* label>",
  "<https://a.com|https://b.com label>",
  "<https://a.com|www.b.com>",
  "<https://a.com|me@x.com>",
  "<https://a.com|0612345678>",
  "<https://a.com|<!!mention:bob|Bob>>",
  "<https://a.com|label> https://c.com",
  "<https://a.com|la>bel>",
  "<https://a<b.com|x>",
  "<https://a.com|x\ny>",
  "*<https://a.com|x>*",
  "<https://a.com|_x_>",
  "<tel:123|x>",
  "<javascript:alert(1)|x>",
  "<https://a.com/p?q=1&r=2#f|x>",
  "x<https://a.com|y>z",
  "<actionlink:a|b>",
  "<actionLink:a|b>",
  "<ACTIONLINK:a|b>",
  "<actionlink:|b>",
  "<actionlink:a?|b>",
  "<actionlink:a?x|b>",
  "<actionlink:a?x=|b>",
  "<actionlink:a?=1|b>",
  "<actionlink:a?x=1&x=2|b>",
  "<actionlink:a?x=1&&y=2|b>",
  "<actionlink:a?x=%20y&z=a%2Fb|b>",
  "<actionlink:a?x=a=b|b>",
  "<actionlink:a?x=1?y=2|b>",
  "<actionlink:a b|c>",
  "<actionlink:a?x=1 2|c>",
  "<actionlink:a|*b*>",
  "<actionlink:a|https://x.com>",
  "<actionbutton:a?p=q|<!!mention:bob|Bob>>",
  "<actionlink:a%20b|c>",
  "<actionlink:a?x=bad%zz|c>",
  "<actionlink:a|>",
  "<actionlink:a|b|c>",
  "<actionbutton:a|https://x.com and www.y.com>",
  "<actionlink:a?x=1&|b>",
  "<actionlink:a?&x=1|b>",
  "<actionlink:a?x+y=1+2|b>",
  "<actionlink:a#f|b>",
  "<actionlink:a/b|c>",
  "<actionlink:a.b-c_d|e>",
  // URLs and e-mail addresses
  "#example.com",
  "@example.com",
  "x @example.com",
  "#foo x.com",
  "<b>www.x.com</b>",
  "<a href=\"x\">www.y.com</a> www.z.com",
  "&nbsp;www.x.com",
  "a&lt;www.x.com&gt;",
  "<!-- www.x.com --> www.y.com",
  "<div www.x.com>",
  "<script>www.x.com</script>",
  "<br>www.x.com",
  "x<y.com",
  "1<2 www.x.com",
  "😀.com",
  "a😀.com",
  "www.😀.com",
  "http://😀",
  "example.co.uk",
  "foo.local",
  "localhost:3000",
  "http://localhost:3000/x",
  "192.168.0.1",
  "192.168.0.1:8080/path",
  "256.1.1.1",
  "1.2.3.4.5",
  "http://1.2.3.4",
  "ftp://x.y",
  "git:domain.com",
  "version:1.0",
  "javascript:alert(1)",
  "nowhitespacehttp://www.test.com",
  "Link 1:http://google.com",
  "//x.com/path",
  "(x.com)",
  "(x.com/a_(b))",
  "[http://x.com/a?b[]=1]",
  "x.com.",
  "x.com...",
  "x.com?!",
  "x.com/?q=a,b;c",
  "x.com/path)",
  "{x.com}",
  "x.com/~u/%20/é",
  "x.com#frag",
  "x.com:8080",
  "x.com:abc",
  "x.com:",
  "https://x.com:8080/a",
  "HTTPS://X.COM",
  "Www.X.Com",
  "WWW.X.COM",
  "www.x",
  "www.x.unknowntld",
  "x.COM",
  "x.Com",
  "a.b.c.d.com",
  "a-b.com",
  "-ab.com",
  "a--b.com",
  "ab-.com",
  "a_b.com",
  "_ab.com",
  "me@x.com",
  "me.you@x.co.uk",
  "me..you@x.com",
  ".me@x.com",
  "me.@x.com",
  "a+b@x.com",
  "a@b@x.com",
  "mailto:me@x.com",
  "MAILTO:me@x.com",
  "mailto:x",
  "me@x",
  "me@x.c",
  "me@x.unknowntld",
  "me@x-.com",
  "me@-x.com",
  "me@x..com",
  "\"me\"@x.com",
  "{me}@x.com",
  "me@x.com.",
  "x.com@y.com",
  "http://me@x.com",
  "http://user:pass@x.com/",
  // phone numbers: digit counts, separators, boundaries
  "0612345678",
  "061234567",
  "06123456",
  "0612345",
  "061234",
  "06123456789012",
  "061234567890123",
  "0612345678901",
  "+31612345678",
  "(06)12345678",
  "(06) 12345678",
  "06-12345678",
  "06 12 34 56 78",
  "06.12.34.56.78",
  "06_12_34_56_78",
  "06+12+34+56+78",
  "06--12345678",
  "06  12345678",
  "06-.12345678",
  "a0612345678",
  "0612345678a",
  "é0612345678",
  "0612345678é",
  "_0612345678",
  "0612345678_",
  "-0612345678",
  "0612345678-",
  "x:0612345678",
  "0612345678:",
  "/0612345678",
  "0612345678/",
  "0612345678.",
  "0612345678,",
  "(0612345678)",
  "[0612345678]",
  "+0612345678",
  "++0612345678",
  "(+31)612345678",
  "+(31)612345678",
  "06)12345678",
  "06(12)345678",
  "1234567",
  "12 34 567",
  "2020-2021",
  "2021-2020",
  "2020-2020",
  "1999-2000",
  "0999-1000",
  "20201-20211",
  "2020-20211",
  "999-1000",
  "10.30-11.45",
  "9.30-10.45",
  "25.30-11.45",
  "10.30-11.75",
  "10.60-11.45",
  "23.59-00.00",
  "00.00-23.59",
  "10.30 - 11.45",
  "10:30-11:45",
  "1030-1145",
  "10.3-11.45",
  "010.30-11.45",
  "call 123-4567 now",
  "tel 123 4567.",
  "1 2 3 4 5 6 7",
  "12345678901234567890",
  "0612345678 0612345678",
  "0612345678,0612345678",
  "+1 555 123 4567",
  "(555) 123-4567",
  "555-123-4567",
  "1-800-FLOWERS",
  "06١٢٣٤٥٦٧٨",
  "０６１２３４５６７８",
  "06\u00a012345678",
  "06\t12345678",
  "٠٦١٢٣٤٥٦٧٨",
  "0612345678😀",
  "😀0612345678",
  "*0612345678*",
  "x*0612345678*",
  "#0612345678",
  "@0612345678",
  "%0612345678",
  "$0612345678",
  "0612345678%",
  "0612345678#",
  "0612345678@",
  "0612345678!",
  "0612345678?",
  "0612345678'",
  "'0612345678",
  "\"0612345678\"",
  // phone numbers: digit groups, year ranges, time ranges
  "1 23 45 67",
  "12 3 4 5 67",
  "12 34 5 6 7",
  "1 234 5678",
  "1234 5 6 7",
  "1 2 345678",
  "12 345678",
  "1 2345678",
  "123456 7",
  "12345 6 7",
  "1-2-3-4-5-6-7",
  "12-34-56-7",
  "1.2.3.4.5.6.7",
  "1 2 3 4 5 6 7 8",
  "1 2 3 4 5 6 7 8 9",
  "1 2 3 4 5 6 7 8 9 0 1 2 3",
  "11 2 3 4 5 6",
  "1 2 3 4 5 66",
  "1_2_3_4_5_6_7",
  "+1 2 3 4 5 6 7",
  "(1 2 3 4 5 6 7",
  "1 2 3 4 5 6 7 8 9 0",
  "09.30-10.45",
  "9.30-9.45",
  "0.00-0.01",
  "24.00-01.00",
  "23.60-01.00",
  "1.30-2.45",
  "2020-2021 1234567",
  "x 2020-2021 y",
  "2020-2021,",
  "(2020-2021)",
  "2020_2021",
  "2020.2021",
  "2020 2021",
  "2020+2021",
  "2021-2022-2023",
  "1234-5678-9",
  "10.30-11.45.5",
  "a 10.30-11.45",
  "1999-1990 and",
  "12345678-1",
  "5-1234567",
  "(555)1234567",
  "(555)(123)4567",
  "(555))1234567",
  "1234567)",
  "1234567(",
  "(1234567",
  "1234567+",
  "+1234567+",
  "1234567 ",
  "  1234567  ",
  "1234567\n7654321",
  "a1234567 7654321",
  "1234567a 7654321",
  "x-1234567 7654321",
  "1234567-x 7654321",
  // emphasis adjacency, HTML-looking text, character entities
  "_a_*b*",
  "*a*_b_",
  "*a*_b_ c",
  "x.com/?a=1&amp;b=2",
  "x.com/?a=1&amp;b=2&lt;c",
  "@a:b.com",
  "#a:b.com",
  "+a:b.com",
  "-  ",
  "-   x",
  "- a\u2028b",
  "<https://a>b.com|x>",
  "<actionlink:a>b|c>",
  "<actionlink:a?x=>|c>",
  ".0612345678",
  "0612345678.5",
  "06123456.78",
  "=0612345678",
  "0612345678=",
  "*0612345678",
  "~0612345678",
  ">0612345678",
  "<0612345678>",
  "&0612345678",
  "0612345678&",
  "\\0612345678",
  "|0612345678",
  "`0612345678`",
  "<b>*x.com*</b>",
  "<a>x.com</a> y.com",
  "<a>\ny.com",
  "<A HREF=x>y.com</A> z.com",
  "<style>x.com</style>y.com",
  "<a/>x.com",
  "</a>x.com",
  "<a>x.com</b>y.com",
  "<!---->x.com",
  "<!-->x.com",
  "<!DOCTYPE html>x.com",
  "<!x>y.com",
  "<a href='x.com'>",
  "<img src=x.com>",
  "<p>x.com<p>",
  "a<b c=\"d\">x.com",
  "</>x.com",
  "< a>x.com",
  "<a\tb>x.com",
  "<a b>x.com</a\t>y.com",
  "&#39;x.com&#39;",
  "&quot;x.com&quot;",
  "&amp;x.com",
  "&NBSP;x.com",
  "x.com&nbsp;y",
  "me@x.com&gt;",
  "x.com&#62;",
  // overlapping autolinks and code-span token order
  "x.com/http://y.com",
  "x.com?u=https://y.com z",
  "https://x.com/?u=https://y.com z",
  "me@x.com/http://y.com",
  "- a\n- \n- b",
  "```<!!mention:a>b|C>```",
  "```<!!customemoji:<!!mention:a|b>>```",
  "```<!!mention:a|<!!customemoji:x>>```",
  "x#a:b.com",
  // line terminators inside tokens, step order
  "```<!!customemoji:x|<!!mention:a|b>>```",
  "<actionlink:a|<https://x.com|y>>",
  "<https://x.com|<actionlink:a|y>>",
  "<!!mention:a|b\rc>",
  "<!!customemoji:a\rb>",
  "<https://a\rb|x>",
  "<https://a|b\rc>",
  "<actionlink:a\rb|c>",
  "<actionlink:a|b\rc>",
  "<!!mention:a\u00a0b|c>",
  "<!!mention:a\u200bb|c>",
  "<!!mention:a\u2028b|c>",
  "```a\rb```",
  "- a\r- b",
  "* a\n** b",
  "x\n-\ta\n+\tb",
  "_a_b_",
  "_a__b_",
  "*a* *b* *c*",
  "a *b* c *d* e",
  "*a*\u3000*b*",
  // unicode, emoji, multi-line messages and realistic mixes
  "\n",
  "\n\n",
  "   ",
  " \n ",
  "a\r\nb",
  "tab\there",
  "日本語 *テキスト* です",
  "emoji 👍🏽 *bold* 👨\u200d👩\u200d👧",
  "Ünïcödé _ital_ ~strïke~",
  "<!!mention:%E2%82%AC|Euro> <!!mention:user%2F1|A B>",
  "<!!customemoji:party_parrot> and *<!!customemoji:cat>*",
  "```code with <!!mention:u%2F1|Ann> and <!!customemoji:cat>\nover lines```",
  "intro\n- one\n- two\n\nmiddle\n* three\n+ four\nend",
  "- start\nmiddle\n- end",
  "text\n\n- a\n  - b\n\n\n- c\ntail",
  "see (https://en.wikipedia.org/wiki/Foo_(bar)), ok?",
  "http://example.com:8080/path?x=1&y=2#frag!",
  "https://example.com/a.b.c/.",
  "write to someone.else+tag@sub.example.co.uk; thanks",
  "mailto:someone@example.com?subject=hi",
  "ftp://files.example.org/x",
  "http://[::1]/",
  "https://例え.テスト/パス",
  "xn--bcher-kva.example",
  "visit www.example.com/path, then example.org.",
  "IP 10.0.0.1 and 10.0.0.256 and 1.2.3.4:80/x",
  "http://localhost/x and localhost",
  "one.two.three.four.com",
  "ex-ample.com ex_ample.com",
  "call +31 20 123 4567 or (020) 123-4567 today",
  "dates 2019-2020, 2021-2019 and times 9.00-17.30, 9.00-17.60",
  "<https://a.com|*bold* label> <actionbutton:go?to=home&x=%20y|*Go*>",
  "<mailto:me@x.com|write> <MAILTO:me@x.com|w2>",
  "long word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word *end*",
  // bullet items start at any line start, including after "\r", U+2028 and U+2029
  "x\r- a\n- b",
  "x\r- a",
  "x\r- a\r- b",
  "x\u2028- a",
  "x\u2029- a\n- b",
  "- a\n- b\r- c",
  "- a\n- b\u2028- c",
  "- a\u2028- b",
  "x\r- a\ny",
  "x\r- a\n\ny",
  "\r\n- a",
  "x\r\n- a",
  "x \r- a",
  "x\r  - a",
  "x\r-\ta",
  "x\r- \n- b",
  "- a\n\r- b",
  "- a\n\r\n- b",
  "- a\r\n\r\n- b",
  "x *\r* y",
  "x\r*",
  "x\r* a*b*",
  "x\r*b*",
  "x\u2028*b*",
  "x\u2029_b_",
  "0612345678\r0612345678",
  "0612345678\u20280612345678",
  "a\r_b_ c",
  "*a*\r*b*",
  "x\r<!!mention:a|b>*b*",
  "x *\r*\nx * *\nx *a*\n",
  // URL recogniser details: competing candidates, schemes, hosts, brackets, entities, TLDs
  "<https://a.com/_x_|y>",
  "<a><https://a.com|x> tail www.b.com",
  "<https://a.com|x><https://b.com|y>",
  "*<https://a.com|x*>",
  "_<https://a.com|x>_ z",
  "<https://a.com|x> <a>x.com",
  "<a><https://a.com x|y>",
  "555-123-4567.example.com",
  "1-555-123-4567.com",
  "(555) 123-4567.com",
  "+1 555 123 4567x.com",
  "+1-555-123-4567.example.org",
  "03-1234-5678 x.com",
  "090-1234-5678.jp",
  "(03)1234-5678",
  "#foo.com",
  "#x www.y.com",
  "x#y.com",
  "#_a.com b.com",
  "@foo.com",
  "@a_b:c.com",
  "@a.b.com",
  "x @a b.com",
  "1.2.3.4.com",
  "1.2.3.4/path?q",
  "1.2.3.4:80",
  "01.02.03.004",
  "255.255.255.255 256.0.0.1",
  "git+ssh://x.org/r",
  "a-b://c",
  "-//x.com",
  "x--//y.com",
  "see //x.com/a",
  "///x.com",
  "a//b.com",
  "http:///x",
  "file:///c:/w",
  "http://",
  "http:/x.com",
  "mailto:",
  "x:y.com",
  "x:1.0",
  "TEL:123",
  "mail:x@y.com",
  "mailt@x.com",
  "mailto:.x@y.com",
  "mailto:x.y@z.com",
  "m@x.com",
  "ma@x.com",
  "MAILTO:A@B.COM",
  "(x.com/a)",
  "x.com/a)b)",
  "[x.com]",
  "{x.com/a}b}",
  "x.com/(a)(b)",
  "x.com/a(b",
  "x.com/a]",
  "x.com/a}?",
  "x.com/?a=1&lt;b",
  "x.com/?a=1&#39;b",
  "x.com/&quot;",
  "&lt;x.com&gt;",
  "x.COM",
  "x.中国",
  "x.ελ",
  "例え.テスト",
  "x.рф",
  "a.b.c.xn--p1ai",
  "x.co.uk.",
  "x.museum",
  "x.dev/a",
  "x.zip",
  "x.app",
  "a.b@c.d.com",
  "a@b.c@d.com",
  "a..b.com",
  "a.-b.com",
  "a-.b.com",
  "-a.com",
  "a.b-.com",
  "a.b--c.com",
  "ab_.com",
  "a.b_c.com",
  "x.com:8080:9090",
  "x.com:80/a:b",
  "x.com/a:b",
  "http://a:b@c.com",
  "user@localhost",
  "x@1.2.3.4",
  "✓x.com/✓",
  "x.com/✓",
  "x.com/a✓.",
  "😀x.com",
  "x.com😀",
  "x.com/😀",
];

// ---------------------------------------------------------------------------------------------
// Pseudo-random inputs built from markup fragments, to catch interactions the hand-written cases
// miss. A fixed seed keeps the fixtures stable.

const FRAGMENTS = [
  "*", "_", "~", "*", "_", "~", " ", " ", " ", "\n", "\n", "- ", "* ", "+ ", "  - ", "```", "`",
  "a", "bc", "word", "x.com", "www.y.org", "me@x.com", "https://q.io/p?x=1", "(", ")", ".", ",",
  "!", "?", ":", "/", "#", "@", "|", ">", "<", "'", "\"", "\t", "\u00a0", "é", "😀", "日本",
  "0612345678", "+31 6 1234 5678", "2020-2021", "10.30-11.45", "123-4567", "1.2.3.4",
  "<!!mention:u%2F1|Ann>", "<!!customemoji:cat>", "<https://a.com|lbl>", "<mailto:z@x.com|mail>",
  "<actionlink:do?a=1&b=%20|go>", "<actionbutton:btn|Press>", "<b>", "</b>", "<a>", "</a>",
  "&nbsp;", "&lt;", "-", "+", "=", "]", "[", "{", "}", "%20", "::", "//",
];

// mulberry32: small, well-known 32-bit PRNG.
function mulberry32(seed) {
  return function () {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const RANDOM_SEED = 20240611;
const RANDOM_COUNT = 700;
const RANDOM_MAX_FRAGMENTS = 14;

function randomInputs() {
  const rand = mulberry32(RANDOM_SEED);
  const out = [];
  for (let i = 0; i < RANDOM_COUNT; i++) {
    const n = 1 + Math.floor(rand() * RANDOM_MAX_FRAGMENTS);
    let s = "";
    for (let j = 0; j < n; j++) s += FRAGMENTS[Math.floor(rand() * FRAGMENTS.length)];
    out.push(s);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Plaintext cases: content as a server returns it, covering every block kind and node type in
// both spellings. Cases that make the official client throw (malformed %-escapes in a file URL,
// nodes without their fields) are left out; see protocol/src/plaintext.rs.

const file = (extra) => ({ type: "file", fileToken: "tok", size: 1, filename: "ignored.bin", ...extra });
const voice = (duration) => file({ subtype: "voice", url: "https://cdn.test/v/voice.ogg", filename: "v.ogg", duration });
const text = (...children) => ({ type: "text", children });

const PLAINTEXT_CASES = [
  [text("plain")],
  [text()],
  [text("a ", { type: "bold", children: ["b ", { type: "italic", children: ["i"] }] }, " ", { type: "strikethrough", children: ["s"] })],
  [text("x", { type: "bulletList", children: [{ type: "bulletPoint", children: ["p1"] }, { type: "bulletPoint", children: ["p2"] }] }, "y")],
  [text("x", { type: "bulletlist", children: [{ type: "bulletpoint", children: ["p1"] }] }, "y")],
  [text({ type: "bulletList", children: [{ type: "bulletPoint", children: ["a", { type: "bulletList", children: [{ type: "bulletPoint", children: ["b"] }] }] }] })],
  [text({ type: "bulletPoint", children: ["lonely"] }, "after")],
  [text({ type: "codeSpan", text: "cs" }, { type: "codespan", text: "cs2" }, { type: "codeBlock", text: "cb" }, { type: "codeblock", text: "cb2" })],
  [text({ type: "autoLink", url: "https://a.test", text: "a.test" }, " ", { type: "autolink", url: "tel:123", text: "123" })],
  [text({ type: "link", url: "https://a.test", children: ["label ", { type: "bold", children: ["b"] }] })],
  [text({ type: "actionLink", action: "a", params: { k: "v" }, children: ["AL"] }, { type: "actionButton", action: "b", params: {}, children: ["AB"] })],
  [text({ type: "actionlink", action: "a", params: {}, children: ["al"] }, { type: "actionbutton", action: "b", params: {}, children: ["ab"] })],
  [text({ type: "customEmoji", text: ":cat:" }, { type: "customemoji", text: ":dog:" }, { type: "emoji", text: "😀" })],
  [text("hi ", { type: "mention", id: "u1", text: "Bob" }, "!")],
  [text({ type: "blockquote", children: ["quoted ", { type: "bold", children: ["b"] }] }, { type: "blockQuote", children: ["bq"] })],
  [text({ type: "suppressed", children: ["hidden"] }, "|", { type: "suppressed", text: "t" })],
  [text({ type: "somethingNew", children: ["w1"] }, { type: "other", text: "w2" }, { type: "bare" }, "end")],
  [text({ type: "bold", children: [{ type: "unknownInside", children: ["w"] }, "b"] })],
  [text("a"), text("b")],
  [text("a"), { type: "location", latitude: 1.5, longitude: 2.5 }, text("b")],
  [{ type: "location", latitude: 52.37, longitude: 4.89 }],
  [{ type: "location", latitude: 0, longitude: 0 }, { type: "location", latitude: 1, longitude: 1 }],
  [file({ subtype: "image", url: "https://cdn.test/x/some%20pic.png?x=1&y=/z", width: 10, height: 20 })],
  [file({ subtype: "video", url: "https://cdn.test/x/clip.mp4#t=10", width: 10, height: 20, duration: 12.5 })],
  [file({ subtype: "audio", url: "https://cdn.test/x/a%2Fb%20c.mp3", duration: 3 })],
  [file({ url: "https://cdn.test/x/report%20Q1%20(final).pdf?token=abc%20def" })],
  [file({ url: "https://cdn.test/x/%F0%9F%98%80+smile.txt" })],
  [file({ url: "https://cdn.test/x/%2f%2Fq.pdf" })],
  [file({ url: "https://cdn.test/x/dir/" })],
  [file({ url: "https://cdn.test/" })],
  [file({ url: "no-slash%20here.pdf?x=1" })],
  [file({ url: "" })],
  [file({ url: "https://cdn.test/x/q?a=b/c" })],
  [file({ url: "https://cdn.test/x/q.pdf?a=b?c" })],
  [file({ url: "https://cdn.test/x/q\n?x.pdf" })],
  [file({ url: "a\nb/c.pdf" })],
  [file({ url: "https://cdn.test/x/a?b\n?c" })],
  [file({ subtype: "image", url: "https://cdn.test/i/%C3%A9t%C3%A9.jpg" })],
  [voice(75.4)], [voice(5)], [voice(0)], [voice(0.4)], [voice(0.6)], [voice(59.5)], [voice(59.99)],
  [voice(60)], [voice(61)], [voice(599.99)], [voice(3600)], [voice(3661.5)], [voice(36000.7)],
  [voice(1e-7)], [voice(-5)], [voice(-5.5)], [voice(-0.5)], [voice(-60)], [voice(1e22)], [voice(123456789.9)],
  [voice(undefined)],
  [file({ subtype: "voice", url: "https://cdn.test/v/other%20name.ogg", duration: 9 })],
  [text("caption"), file({ subtype: "image", url: "https://cdn.test/p.png" }), voice(75.4), file({ url: "https://cdn.test/doc.pdf" }), { type: "location", latitude: 1, longitude: 2 }],
  [text("a x.com y.com ", { type: "codeSpan", text: "cs" }, { type: "codespan", text: "CS" }, { type: "bulletList", children: [{ type: "bulletPoint", children: ["p1"] }] }, { type: "customEmoji", text: ":cat:" }, { type: "mention", id: "b", text: "Bob" }, { type: "actionButton", action: "x", params: {}, children: ["ALL"] })],
  [{ type: "unknownBlock", x: 1 }],
  [text("a"), { type: "unknownBlock" }, text("b")],
  [],
];

// ---------------------------------------------------------------------------------------------
// Character-class sweeps. One message holds one line per UTF-16 code unit (lone surrogates and
// "\n" excluded); which lines come back formatted tells the class. Stored as inclusive ranges.

// The emphasis templates use "_" rather than "*": "*" is also a bullet marker, and a bullet item
// may start after "\r", U+2028 or U+2029 inside a line, which would swallow the next line.
const SWEEPS = {
  // Boundary before an emphasis marker (the character is consumed and becomes " ").
  emphasisPrefix: { template: "x{c}_b_", hit: (nodes) => nodes.some((n) => n.type === "italic") },
  // Boundary after a closing emphasis marker.
  emphasisSuffix: { template: "x _b_{c}", hit: (nodes) => nodes.some((n) => n.type === "italic") },
  // Characters allowed as one-character emphasis content.
  emphasisContent: { template: "x _{c}_", hit: (nodes) => nodes.some((n) => n.type === "italic") },
  // Characters that keep a domain label going: "a{c}b.com" is linked as a whole.
  autolinkLabel: { template: "a{c}b.com", hit: (nodes, line) => nodes.some((n) => n.type === "autolink" && n.text === line) },
  // Characters allowed right before a phone number.
  phonePrefix: { template: "x{c}0612345678", hit: (nodes) => nodes.some((n) => n.type === "autolink" && n.url.startsWith("tel:")) },
  // Characters allowed right after a phone number.
  phoneSuffix: { template: "0612345678{c}x", hit: (nodes) => nodes.some((n) => n.type === "autolink" && n.url.startsWith("tel:")) },
};

const BMP_END = 0x10000;
const isSurrogate = (u) => u >= 0xd800 && u <= 0xdfff;

function sweepUnits() {
  const units = [];
  for (let u = 0; u < BMP_END; u++) if (!isSurrogate(u) && u !== 0x0a) units.push(u);
  return units;
}

// Splits the sent children back into lines: every line of a sweep message ends with "\n" and no
// template creates a node that swallows a newline.
function nodesPerLine(children, lineCount) {
  const lines = Array.from({ length: lineCount }, () => []);
  let line = 0;
  for (const node of children) {
    if (typeof node === "string") {
      line += node.split("\n").length - 1;
    } else if (line < lineCount) {
      lines[line].push(node);
    }
  }
  return lines;
}

function toRanges(units) {
  const ranges = [];
  for (const u of units) {
    const last = ranges[ranges.length - 1];
    if (last && last[1] === u - 1) last[1] = u;
    else ranges.push([u, u]);
  }
  return ranges;
}

// TLD candidates: every top-level entry of the Public Suffix List (and its punycode form) when the
// machine has one, plus the TLDs recorded before, so a re-run never loses candidates.
function tldCandidates(previous) {
  const candidates = new Set(previous);
  const psl = "/usr/share/publicsuffix/public_suffix_list.dat";
  if (fs.existsSync(psl)) {
    for (const raw of fs.readFileSync(psl, "utf8").split("\n")) {
      const line = raw.trim();
      if (!line || line.startsWith("//") || line.includes(".") || /^[!*]/.test(line)) continue;
      candidates.add(line.toLowerCase());
      // Internationalised TLDs are also tried in their ASCII (punycode) form.
      const ascii = domainToASCII(line);
      if (ascii && ascii !== line) candidates.add(ascii.toLowerCase());
    }
  }
  return [...candidates].sort();
}

// ---------------------------------------------------------------------------------------------

function writeJson(name, value) {
  fs.writeFileSync(path.join(outDir, name), JSON.stringify(value, null, 2) + "\n");
}

function readJson(name, fallback) {
  try {
    return JSON.parse(fs.readFileSync(path.join(outDir, name), "utf8"));
  } catch {
    return fallback;
  }
}

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
let plaintextContents = [];
const stub = await startStub({
  respond(frame) {
    const [, method, p] = frame;
    if (method === "GET" && /^\/me\/conversations\/p\d+\/messages$/.test(p)) {
      // Newest first, as the server pages them; ids keep the case order.
      const data = plaintextContents.map((content, i) =>
        messageWire(`m${i}`, { content, createdAt: 1700000000000 + (plaintextContents.length - i) * 1000 }),
      );
      return [200, { data, cursor: null }];
    }
    return undefined;
  },
});
const session = newSession(stub);
const conversation = session.conversation("c1");

function lastClientFrame(method) {
  for (let i = stub.log.length - 1; i >= 0; i--) {
    const e = stub.log[i];
    if (e.kind === "ws" && e.from === "client" && Array.isArray(e.frame) && e.frame[1] === method) return e.frame;
  }
  return undefined;
}

async function record(input, profile) {
  const before = stub.log.length;
  try {
    if (profile === "send") await conversation.send(input);
    else await conversation.message("m1").edit(input);
  } catch (e) {
    return { input, error: `${e.name}: ${e.message}` };
  }
  const frame = lastClientFrame(profile === "send" ? "POST" : "PATCH");
  if (!frame || stub.log.length === before) {
    throw new Error(`no ${profile} frame for ${JSON.stringify(input)}`);
  }
  return { input, children: frame[3].content[0].children };
}

// A malformed %-escape in a mention id makes the official client throw synchronously from inside
// its parser; catch that instead of letting it end the run.
process.on("uncaughtException", (e) => {
  console.error("uncaught:", e);
});

const inputs = [...new Set([...HAND_WRITTEN, ...randomInputs()])];
for (const profile of ["send", "edit"]) {
  const results = [];
  for (const input of inputs) results.push(await record(input, profile));
  writeJson(`${profile}.json`, results);
  console.log(`${profile}: ${results.length} inputs (${results.filter((r) => r.error).length} errors) at ${elapsed()}`);
}

// Sweeps.
const sweeps = {};
const units = sweepUnits();
// The official parser slows down sharply on very long messages, so each sweep goes out in chunks.
const SWEEP_CHUNK_LINES = 4096;

async function sweepLines(lines) {
  const perLine = [];
  for (let start = 0; start < lines.length; start += SWEEP_CHUNK_LINES) {
    const chunk = lines.slice(start, start + SWEEP_CHUNK_LINES);
    await conversation.send(chunk.join("\n") + "\n");
    perLine.push(...nodesPerLine(lastClientFrame("POST")[3].content[0].children, chunk.length));
  }
  return perLine;
}

for (const [name, { template, hit }] of Object.entries(SWEEPS)) {
  const lines = units.map((u) => template.replace("{c}", String.fromCharCode(u)));
  const perLine = await sweepLines(lines);
  const members = units.filter((u, i) => hit(perLine[i], lines[i]));
  sweeps[name] = { template, members: toRanges(members) };
  console.log(`sweep ${name}: ${members.length} members at ${elapsed()}`);
}
const previous = readJson("sweeps.json", {}).tlds ?? {};
const previousTlds = [...(previous.members ?? []), ...(previous.rejected ?? [])];
const candidates = tldCandidates(previousTlds);
{
  const lines = candidates.map((tld) => `x.${tld}`);
  const perLine = await sweepLines(lines);
  const members = candidates.filter((_, i) => perLine[i].some((n) => n.type === "autolink" && n.text === lines[i]));
  const rejected = candidates.filter((tld) => !members.includes(tld));
  sweeps.tlds = { template: "x.{tld}", members, rejected };
  console.log(`sweep tlds: ${members.length} of ${candidates.length} candidates`);
}
writeJson("sweeps.json", sweeps);

// Plaintext. A message list subscription loads 30 messages at first, so the cases are served in
// batches, one conversation per batch.
const PLAINTEXT_BATCH = 25;
const plaintext = [];
for (let start = 0; start < PLAINTEXT_CASES.length; start += PLAINTEXT_BATCH) {
  plaintextContents = PLAINTEXT_CASES.slice(start, start + PLAINTEXT_BATCH);
  let snapshot;
  const subscription = session.conversation(`p${start}`).subscribeMessages((messages) => {
    snapshot = messages;
  });
  await subscription.connected;
  await settle(50);
  subscription.unsubscribe();
  const byId = new Map((snapshot ?? []).map((m) => [m.id, m]));
  plaintextContents.forEach((content, i) => {
    const message = byId.get(`m${i}`);
    if (!message) throw new Error(`no snapshot for plaintext case ${start + i}`);
    plaintext.push({ content, plaintext: message.plaintext });
  });
}
writeJson("plaintext.json", plaintext);
console.log(`plaintext: ${plaintext.length} cases at ${elapsed()}`);

await stub.close();
console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(0);
