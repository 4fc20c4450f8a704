'use strict';
// Starts the telegram-test-api emulator (pinned in package.json) on 127.0.0.1 and patches, at
// start-up, the gaps that keep python-telegram-bot 22 from talking to it as it talks to Telegram.
// node_modules is never edited: the emulator's express app is mounted behind an outer app that
// fixes requests and responses, and a few TelegramServer methods are wrapped. README.md lists
// every patch and the test-only endpoints (/user/*, /control/*).
//
// Usage: node launch.js [--port N] [--exit-with-stdin]
// Prints one JSON line {"url": "http://127.0.0.1:PORT"} on stdout once it accepts connections.

const http = require('node:http');
const path = require('node:path');
const { parseArgs } = require('node:util');
const TelegramServer = require('telegram-test-api');

// express is the emulator's own dependency: resolve it from there so both use the same copy.
const emulatorDir = path.dirname(require.resolve('telegram-test-api'));
const express = require(require.resolve('express', { paths: [emulatorDir] }));

const HOST = '127.0.0.1';
const MAX_TEXT_LENGTH = 4096;
const MAX_CALLBACK_DATA_BYTES = 64;
const MAX_POLL_TIMEOUT_S = 50;
const WEBHOOK_REQUEST_TIMEOUT_MS = 10000;
// Telegram keeps an update it could not deliver and retries for hours; a test needs the retries to
// outlast a bot restart (seconds), not a day.
const WEBHOOK_GIVE_UP_MS = 10 * 60 * 1000;
const WEBHOOK_BACKOFF_MIN_MS = 50;
const WEBHOOK_BACKOFF_MAX_MS = 1000;
// Bot API methods that send or change a message in a chat: the ones Telegram's flood limit counts
// (those with a chat_id, as python-telegram-bot's AIORateLimiter also assumes).
const FLOOD_RETRY_AFTER_S = 1;
// Kept for a whole test session: the emulator's clean-up daemon would otherwise drop messages
// older than 60 s while a slow test still reads them.
const STORE_SECONDS = 24 * 60 * 60;
const BOT_FIRST_NAME = 'Test First name';
const BOT_USERNAME = 'TestNameBot';
const DEFAULT_BOT_ID = 666;
const CHAT_ACTIONS = new Set([
  'typing', 'upload_photo', 'record_video', 'upload_video', 'record_voice', 'upload_voice',
  'upload_document', 'choose_sticker', 'find_location', 'record_video_note', 'upload_video_note',
]);
const HTML_TAGS = new Set([
  'b', 'strong', 'i', 'em', 'u', 'ins', 's', 'strike', 'del', 'span', 'tg-spoiler', 'a',
  'tg-emoji', 'code', 'pre', 'blockquote',
]);
const FAILURE_KINDS = new Set(['flood', 'blocked', 'bad_gateway', 'drop']);
const NOT_MODIFIED = 'Bad Request: message is not modified: specified new message content and'
  + ' reply markup are exactly the same as a current content and reply markup of the message';

class BadRequest extends Error {}

const log = (...parts) => process.stderr.write(`${new Date().toISOString()} ${parts.join(' ')}\n`);
const nowSeconds = () => Math.floor(Date.now() / 1000);
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// ---------------------------------------------------------------------------------------------
// Per-bot state the emulator does not keep.

const bots = new Map();

function botState(token) {
  let state = bots.get(token);
  if (!state) {
    state = {
      poller: null, // the pending long-poll getUpdates, at most one as on Telegram
      allowedUpdates: [],
      failures: [],
      calls: [],
      commands: new Map(),
      callbacks: new Map(),
      chats: new Map(),
      delivering: false,
      lastError: null,
      // Telegram's "about 30 messages per second": off until /control/limit sets it.
      flood: null,
      floodRefused: 0,
    };
    bots.set(token, state);
  }
  return state;
}

// Telegram derives the bot's id from the token's prefix; PTB compares it with Bot.id.
function botId(token) {
  const prefix = token.split(':', 1)[0];
  return /^\d+$/.test(prefix) ? Number(prefix) : DEFAULT_BOT_ID;
}

function botUser(token) {
  return { id: botId(token), is_bot: true, first_name: BOT_FIRST_NAME, username: BOT_USERNAME };
}

// ---------------------------------------------------------------------------------------------
// Parameter helpers: PTB sends form fields whose non-string values are JSON-encoded.

function jsonParam(value, what) {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    throw new BadRequest(`Bad Request: can't parse ${what} JSON object`);
  }
}

function intParam(value, fallback) {
  if (value === undefined || value === '') return fallback;
  const number = Number(value);
  if (!Number.isInteger(number)) throw new BadRequest('Bad Request: wrong integer parameter');
  return number;
}

const boolParam = (value) => value === true || value === 'true' || value === 'True';

function requireChat(params) {
  if (params.chat_id === undefined || params.chat_id === '') {
    throw new BadRequest('Bad Request: chat_id is empty');
  }
}

// Telegram removes HTML markup before counting characters and refuses malformed markup; a bot
// that puts unescaped user text into an HTML message must fail here as it would in production.
function visibleText(text, parseMode) {
  if (String(parseMode || '').toUpperCase() !== 'HTML') return text;
  const open = [];
  const tag = /<(\/?)([A-Za-z][A-Za-z0-9-]*)?([^<>]*)>|</g;
  const stripped = text.replace(tag, (match, closing, name, _attrs, offset) => {
    const where = `at byte offset ${Buffer.byteLength(text.slice(0, offset))}`;
    if (!name) {
      throw new BadRequest(`Bad Request: can't parse entities: unexpected "<" ${where}`);
    }
    const lower = name.toLowerCase();
    if (!HTML_TAGS.has(lower)) {
      throw new BadRequest(`Bad Request: can't parse entities: Unsupported start tag "${lower}" ${where}`);
    }
    if (!closing) {
      open.push(lower);
      return '';
    }
    const expected = open.pop();
    if (expected !== lower) {
      throw new BadRequest(`Bad Request: can't parse entities: Unmatched end tag ${where}, expected "</${expected}>", found "</${lower}>"`);
    }
    return '';
  });
  if (open.length) {
    throw new BadRequest(`Bad Request: can't parse entities: Can't find end tag corresponding to start tag "${open[open.length - 1]}"`);
  }
  return stripped.replace(/&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);/g, (entity, name) => {
    const named = { lt: '<', gt: '>', amp: '&', quot: '"' };
    if (named[name]) return named[name];
    const code = name[1] === 'x' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
    if (code > 0x10ffff) throw new BadRequest(`Bad Request: can't parse entities: invalid character ${entity}`);
    return String.fromCodePoint(code);
  });
}

function checkText(text, parseMode) {
  if (text === undefined || text === '') throw new BadRequest('Bad Request: message text is empty');
  const visible = visibleText(String(text), parseMode);
  if (visible.trim() === '') throw new BadRequest('Bad Request: message text is empty');
  if (visible.length > MAX_TEXT_LENGTH) throw new BadRequest('Bad Request: message is too long');
  return visible;
}

// Parses reply_markup once (the emulator would parse it again if left a string) and enforces
// Telegram's limits on inline buttons.
function checkReplyMarkup(params) {
  if (params.reply_markup === undefined || params.reply_markup === '') return undefined;
  const markup = jsonParam(params.reply_markup, 'reply keyboard markup');
  params.reply_markup = markup;
  if (markup && Array.isArray(markup.inline_keyboard)) {
    for (const row of markup.inline_keyboard) {
      for (const button of row) {
        if (!button.text) throw new BadRequest('Bad Request: text buttons are unallowed in the inline keyboard');
        const data = button.callback_data;
        if (data !== undefined && (data === '' || Buffer.byteLength(String(data)) > MAX_CALLBACK_DATA_BYTES)) {
          throw new BadRequest('Bad Request: BUTTON_DATA_INVALID');
        }
      }
    }
  }
  return markup;
}

const inlineMarkup = (markup) => (markup && Array.isArray(markup.inline_keyboard)
  ? { inline_keyboard: markup.inline_keyboard } : undefined);

// ---------------------------------------------------------------------------------------------
// The emulator, with its storage kept for a whole session.

const server = new TelegramServer({ host: HOST, port: 1, storeTimeout: STORE_SECONDS });
const emulatorApp = server.webServer;
let stopping = false;

function findBotMessage(token, chatId, messageId) {
  return server.storage.botMessages.find((entry) => entry.botToken === token
    && String(entry.message.chat_id) === String(chatId)
    && String(entry.messageId) === String(messageId));
}

// The emulator answers sendMessage with a date in milliseconds, no sender and a made-up chat;
// this is the Message Telegram would return, rendered from the emulator's storage.
function renderBotMessage(entry) {
  const chatId = Number(entry.message.chat_id);
  const chat = botState(entry.botToken).chats.get(chatId)
    || { id: chatId, type: chatId > 0 ? 'private' : 'group' };
  const message = {
    message_id: entry.messageId,
    from: botUser(entry.botToken),
    chat,
    date: Math.floor(entry.time / 1000),
  };
  if (entry.editDate !== undefined) message.edit_date = entry.editDate;
  if (entry.visibleText !== undefined) message.text = entry.visibleText;
  if (entry.photo !== undefined) message.photo = entry.photo;
  if (entry.caption !== undefined) message.caption = entry.caption;
  const markup = inlineMarkup(entry.message.reply_markup);
  if (markup) message.reply_markup = markup;
  return message;
}

function recordVersion(entry, method) {
  entry.versions = entry.versions || [];
  entry.versions.push({
    method,
    date: entry.editDate === undefined ? Math.floor(entry.time / 1000) : entry.editDate,
    // A photo's version carries its caption as the text a user reads.
    text: entry.visibleText !== undefined ? entry.visibleText : (entry.caption ?? null),
    reply_markup: inlineMarkup(entry.message.reply_markup) || null,
  });
}

function pendingUpdates(token) {
  return server.storage.userMessages.filter((update) => update.botToken === token);
}

function dropUpdates(token, keep) {
  server.storage.userMessages = server.storage.userMessages
    .filter((update) => update.botToken !== token || keep(update));
}

const updateKind = (update) => ('callbackQuery' in update ? 'callback_query' : 'message');

// The emulator delivered a webhook update inline (a failure crashed the process and a success
// reused the update id of a concurrent message) and kept getUpdates updates forever unless read.
// Every user update now joins one queue per bot that getUpdates and the webhook worker share,
// and ids are taken before anything can interleave.
TelegramServer.prototype.addUserUpdate = async function addUserUpdate(update) {
  if (!update.botToken) throw new BadRequest('Bad Request: botToken is required');
  const state = botState(update.botToken);
  const allowed = state.allowedUpdates;
  this.updateId += 1;
  if (allowed.length && !allowed.includes(updateKind(update))) return;
  this.storage.userMessages.push(update);
  if (state.poller) state.poller.wake();
  deliverWebhook(update.botToken);
};

// Adds chat_instance to callback queries and keeps the emulator's bookkeeping (botToken) out of
// the messages the bot receives.
const formatUpdate = TelegramServer.formatUpdate;
TelegramServer.formatUpdate = (update) => {
  const formatted = formatUpdate(update);
  if (formatted.callback_query) {
    const chatId = formatted.callback_query.message.chat.id;
    formatted.callback_query.chat_instance = `instance-${botId(update.botToken)}-${chatId}`;
  } else {
    delete formatted.message.botToken;
  }
  return formatted;
};

// node:http rather than fetch: fetch refuses some ports (e.g. 6000, 10080) a test may listen on.
function postUpdate(hook, update) {
  const body = JSON.stringify(TelegramServer.formatUpdate(update));
  const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  if (hook.secret_token) headers['X-Telegram-Bot-Api-Secret-Token'] = hook.secret_token;
  return new Promise((resolve) => {
    const request = http.request(hook.url, { method: 'POST', headers, timeout: WEBHOOK_REQUEST_TIMEOUT_MS }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode >= 200 && response.statusCode < 300
        ? null : `Wrong response from the webhook: ${response.statusCode} ${response.statusMessage}`));
      response.on('error', (error) => resolve(`Connection failed: ${error.message}`));
    });
    request.on('timeout', () => request.destroy(new Error('Read timeout expired')));
    request.on('error', (error) => resolve(`Connection failed: ${error.message}`));
    request.end(body);
  });
}

// One delivery at a time per bot, in update order, as updates for one chat must be handled in
// order. A failed delivery is retried with back-off, re-reading the webhook each time so a bot
// that comes up later or re-registers receives it; after WEBHOOK_GIVE_UP_MS it is dropped and
// reported by getWebhookInfo.
async function deliverWebhook(token) {
  const state = botState(token);
  if (state.delivering) return;
  state.delivering = true;
  try {
    let attempts = 0;
    let firstFailure = 0;
    while (!stopping && server.webhooks[token]) {
      const [update] = pendingUpdates(token);
      if (!update) break;
      const error = await postUpdate(server.webhooks[token], update);
      if (error === null) {
        attempts = 0;
        dropUpdates(token, (pending) => pending !== update);
      } else {
        attempts += 1;
        if (attempts === 1) firstFailure = Date.now();
        state.lastError = { date: nowSeconds(), message: error };
        log(`webhook delivery of update ${update.updateId} failed (attempt ${attempts}): ${error}`);
        if (Date.now() - firstFailure >= WEBHOOK_GIVE_UP_MS) {
          log(`webhook update ${update.updateId} dropped after ${attempts} attempts`);
          attempts = 0;
          dropUpdates(token, (pending) => pending !== update);
        } else {
          await sleep(Math.min(WEBHOOK_BACKOFF_MAX_MS, WEBHOOK_BACKOFF_MIN_MS * 2 ** (attempts - 1)));
        }
      }
    }
  } finally {
    state.delivering = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Bot API methods. Each handler either answers or wraps the emulator's own route (delegate) and
// fixes its response.

function sendTelegram(res, body) {
  if (body.ok === false) res.status(body.error_code);
  res.json(body);
}

function fail(res, code, description, parameters) {
  const body = { ok: false, error_code: code, description };
  if (parameters) body.parameters = parameters;
  sendTelegram(res, body);
}

// Lets the emulator's route run, then rewrites what it answers; its errors (HTTP 500 with
// {message}, or ok:false with HTTP 200) become Telegram's error shape.
function delegate(res, next, transform) {
  const json = res.json.bind(res);
  res.json = (body) => {
    res.json = json;
    if (res.statusCode >= 400 || !body || body.ok !== true) {
      const description = (body && (body.description || body.message)) || 'Bad Request';
      res.status(200);
      return fail(res, 400, description.startsWith('Bad Request') ? description : `Bad Request: ${description}`);
    }
    return sendTelegram(res, transform(body));
  };
  next();
}

const ok = (result, description) => (description ? { ok: true, result, description } : { ok: true, result });

function commandsKey(params) {
  const scope = params.scope ? jsonParam(params.scope, 'scope') : { type: 'default' };
  return JSON.stringify([scope, params.language_code || '']);
}

const methods = {
  getme(req, res, _next, token) {
    sendTelegram(res, ok({
      ...botUser(token),
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
    }));
  },

  // Telegram keeps updates until a later offset confirms them and holds the request open for up
  // to `timeout` seconds; the emulator answered at once and forgot what it returned.
  getupdates(req, res, _next, token) {
    const params = req.body;
    if (server.webhooks[token]) {
      return fail(res, 409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
    }
    const state = botState(token);
    const offset = intParam(params.offset, 0);
    const limit = Math.min(Math.max(intParam(params.limit, 100), 1), 100);
    const timeout = Math.min(Math.max(intParam(params.timeout, 0), 0), MAX_POLL_TIMEOUT_S);
    if (params.allowed_updates !== undefined) {
      state.allowedUpdates = jsonParam(params.allowed_updates, 'allowed_updates') || [];
    }
    if (offset > 0) {
      dropUpdates(token, (update) => update.updateId >= offset);
    } else if (offset < 0) {
      const keep = new Set(pendingUpdates(token).slice(offset));
      dropUpdates(token, (update) => keep.has(update));
    }
    if (state.poller) {
      fail(state.poller.res, 409, 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running');
      state.poller.cancel();
    }
    const answer = () => sendTelegram(res, ok(
      pendingUpdates(token).slice(0, limit).map((update) => TelegramServer.formatUpdate(update)),
    ));
    if (timeout === 0 || pendingUpdates(token).length > 0) return answer();

    let timer = null;
    const poller = {
      res,
      cancel() {
        clearTimeout(timer);
        if (state.poller === poller) state.poller = null;
      },
      wake() {
        poller.cancel();
        if (!res.writableEnded && !res.destroyed) answer();
      },
    };
    timer = setTimeout(poller.wake, timeout * 1000);
    state.poller = poller;
    res.on('close', poller.cancel);
    return undefined;
  },

  sendmessage(req, res, next, token) {
    const params = req.body;
    requireChat(params);
    const visible = checkText(params.text, params.parse_mode);
    checkReplyMarkup(params);
    delegate(res, next, (body) => {
      const entry = findBotMessage(token, params.chat_id, body.result.message_id);
      entry.visibleText = visible;
      recordVersion(entry, 'sendMessage');
      return ok(renderBotMessage(entry));
    });
  },

  // The emulator has no sendPhoto. A photo is stored as a bot message whose `photo` holds one
  // PhotoSize per upload (its byte size kept, the bytes dropped) and whose caption is checked like
  // Telegram's: at most 1024 characters after markup.
  sendphoto(req, res, _next, token) {
    const params = req.body;
    requireChat(params);
    const photo = params.photo;
    if (!photo || (typeof photo === 'string' && !photo.trim())) {
      throw new BadRequest('Bad Request: there is no photo in the request');
    }
    let caption;
    if (params.caption !== undefined && params.caption !== '') {
      caption = visibleText(String(params.caption), params.parse_mode);
      if (caption.length > 1024) throw new BadRequest('Bad Request: message caption is too long');
    }
    checkReplyMarkup(params);
    const size = typeof photo === 'object' ? photo.size : 0;
    server.addBotMessage({ chat_id: params.chat_id, reply_markup: params.reply_markup }, token);
    const entry = server.storage.botMessages[server.storage.botMessages.length - 1];
    entry.photo = [{ file_id: `photo-${entry.messageId}`, file_unique_id: `p${entry.messageId}`,
      width: 640, height: 480, file_size: size }];
    entry.caption = caption;
    recordVersion(entry, 'sendPhoto');
    sendTelegram(res, ok(renderBotMessage(entry)));
  },

  // Telegram answers edits with the edited Message and removes an inline keyboard that the edit
  // does not repeat; the emulator answered null and kept the old keyboard.
  editmessagetext(req, res, next, token) {
    const params = req.body;
    const entry = editTarget(params, token);
    const visible = checkText(params.text, params.parse_mode);
    const markup = inlineMarkup(checkReplyMarkup(params));
    const current = inlineMarkup(entry.message.reply_markup);
    if (visible === entry.visibleText && JSON.stringify(markup) === JSON.stringify(current)) {
      throw new BadRequest(NOT_MODIFIED);
    }
    delegate(res, next, () => {
      if (!markup) delete entry.message.reply_markup;
      entry.visibleText = visible;
      entry.editDate = nowSeconds();
      recordVersion(entry, 'editMessageText');
      return ok(renderBotMessage(entry));
    });
  },

  editmessagereplymarkup(req, res, next, token) {
    const params = req.body;
    const entry = editTarget(params, token);
    const markup = inlineMarkup(checkReplyMarkup(params));
    if (JSON.stringify(markup) === JSON.stringify(inlineMarkup(entry.message.reply_markup))) {
      throw new BadRequest(NOT_MODIFIED);
    }
    delegate(res, next, () => {
      if (!markup) delete entry.message.reply_markup;
      entry.editDate = nowSeconds();
      recordVersion(entry, 'editMessageReplyMarkup');
      return ok(renderBotMessage(entry));
    });
  },

  deletemessage(req, res, next) {
    delegate(res, next, () => ok(true));
  },

  answercallbackquery(req, res, _next, token) {
    const query = botState(token).callbacks.get(String(req.body.callback_query_id));
    if (!query || query.answered) {
      throw new BadRequest('Bad Request: query is too old and response timeout expired or query ID is invalid');
    }
    query.answered = true;
    sendTelegram(res, ok(true));
  },

  // The emulator ignored the secret token and drop_pending_updates and answered null; it also
  // posted to any address, where this emulator delivers to loopback only.
  setwebhook(req, res, next, token) {
    const params = req.body;
    if (!params.url) {
      // An empty url removes the webhook, as on Telegram.
      if (boolParam(params.drop_pending_updates)) dropUpdates(token, () => false);
      server.deleteWebhook(token);
      return sendTelegram(res, ok(true, 'Webhook was deleted'));
    }
    let url;
    try {
      url = new URL(params.url);
    } catch {
      throw new BadRequest('Bad Request: bad webhook: invalid URL');
    }
    if (url.protocol !== 'http:' || !/^127(\.\d{1,3}){3}$/.test(url.hostname)) {
      throw new BadRequest('Bad Request: bad webhook: the emulator delivers over HTTP to 127.0.0.0/8 only');
    }
    if (params.secret_token !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(params.secret_token)) {
      throw new BadRequest('Bad Request: secret token contains unallowed characters');
    }
    const state = botState(token);
    state.allowedUpdates = params.allowed_updates === undefined
      ? state.allowedUpdates : jsonParam(params.allowed_updates, 'allowed_updates') || [];
    if (boolParam(params.drop_pending_updates)) dropUpdates(token, () => false);
    return delegate(res, next, () => {
      state.lastError = null;
      deliverWebhook(token);
      return ok(true, 'Webhook was set');
    });
  },

  deletewebhook(req, res, next, token) {
    if (boolParam(req.body.drop_pending_updates)) dropUpdates(token, () => false);
    delegate(res, next, () => ok(true, 'Webhook was deleted'));
  },

  getwebhookinfo(req, res, _next, token) {
    const hook = server.webhooks[token];
    const state = botState(token);
    const info = {
      url: hook ? hook.url : '',
      has_custom_certificate: false,
      pending_update_count: pendingUpdates(token).length,
    };
    if (hook && hook.max_connections) info.max_connections = Number(hook.max_connections);
    if (hook && state.allowedUpdates.length) info.allowed_updates = state.allowedUpdates;
    if (hook && state.lastError) {
      info.last_error_date = state.lastError.date;
      info.last_error_message = state.lastError.message;
    }
    sendTelegram(res, ok(info));
  },

  setmycommands(req, res, _next, token) {
    const commands = jsonParam(req.body.commands, 'commands');
    if (!Array.isArray(commands) || commands.length > 100 || !commands.every((c) => c
      && /^[a-z0-9_]{1,32}$/.test(c.command)
      && typeof c.description === 'string' && c.description.length >= 1 && c.description.length <= 256)) {
      throw new BadRequest('Bad Request: BOT_COMMAND_INVALID');
    }
    botState(token).commands.set(commandsKey(req.body), commands);
    sendTelegram(res, ok(true));
  },

  getmycommands(req, res, _next, token) {
    sendTelegram(res, ok(botState(token).commands.get(commandsKey(req.body)) || []));
  },

  deletemycommands(req, res, _next, token) {
    botState(token).commands.delete(commandsKey(req.body));
    sendTelegram(res, ok(true));
  },

  sendchataction(req, res) {
    requireChat(req.body);
    if (!CHAT_ACTIONS.has(req.body.action)) {
      throw new BadRequest('Bad Request: wrong parameter action in request');
    }
    sendTelegram(res, ok(true));
  },

  setmydescription(req, res) {
    sendTelegram(res, ok(true));
  },

  setmyshortdescription(req, res) {
    sendTelegram(res, ok(true));
  },
};

function editTarget(params, token) {
  if (params.inline_message_id) {
    throw new BadRequest('Bad Request: inline messages are not emulated');
  }
  requireChat(params);
  const entry = findBotMessage(token, params.chat_id, params.message_id);
  if (!entry) throw new BadRequest('Bad Request: message to edit not found');
  return entry;
}

function takeFailure(state, method, chatId) {
  const index = state.failures.findIndex((rule) => rule.method.toLowerCase() === method
    && (rule.chat_id === null || String(rule.chat_id) === String(chatId)));
  if (index < 0) return null;
  const rule = state.failures[index];
  if (rule.remaining !== null) {
    rule.remaining -= 1;
    if (rule.remaining <= 0) state.failures.splice(index, 1);
  }
  return rule;
}

// A token bucket per bot: `per_second` calls a second on average, bursts up to `burst`. Only calls
// to a chat count; a refused call spends nothing, as on Telegram.
function overFloodLimit(state, chatId) {
  const { flood } = state;
  if (!flood || chatId === undefined || chatId === '') return false;
  const now = Date.now() / 1000;
  flood.tokens = Math.min(flood.burst, flood.tokens + (now - flood.at) * flood.per_second);
  flood.at = now;
  if (flood.tokens < 1) return true;
  flood.tokens -= 1;
  return false;
}

function applyFailure(rule, req, res, call) {
  switch (rule.kind) {
    case 'flood':
      return fail(res, 429, `Too Many Requests: retry after ${rule.retry_after}`, { retry_after: rule.retry_after });
    case 'blocked':
      return fail(res, 403, 'Forbidden: bot was blocked by the user');
    case 'bad_gateway':
      return fail(res, 502, 'Bad Gateway');
    default:
      call.status = 0;
      return req.socket.destroy();
  }
}

function botApi(req, res, next) {
  const { token } = req.params;
  const method = req.params.method.toLowerCase();
  // Telegram accepts parameters in the query string as well as in the body.
  req.body = { ...req.query, ...req.body };
  const state = botState(token);
  if (method !== 'getupdates') {
    const call = { method: req.params.method, params: { ...req.body }, at: Date.now() / 1000, status: null };
    state.calls.push(call);
    res.on('finish', () => { if (call.status === null) call.status = res.statusCode; });
    const rule = takeFailure(state, method, req.body.chat_id);
    if (rule) return applyFailure(rule, req, res, call);
    if (overFloodLimit(state, req.body.chat_id)) {
      state.floodRefused += 1;
      const wait = state.flood.retry_after;
      return fail(res, 429, `Too Many Requests: retry after ${wait}`, { retry_after: wait });
    }
  }
  const handler = Object.hasOwn(methods, method) ? methods[method] : null;
  if (!handler) return fail(res, 404, 'Not Found');
  try {
    return handler(req, res, next, token);
  } catch (error) {
    if (error instanceof BadRequest) return fail(res, 400, error.message);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Test-only endpoints: the user's side of the chat and failure injection.

function userApi(handler) {
  return (req, res, next) => {
    const { token } = req.body;
    if (typeof token !== 'string' || !token) return res.status(400).json({ ok: false, description: 'token is required' });
    return Promise.resolve()
      .then(() => handler(req.body, botState(token), token, res))
      .catch((error) => {
        if (error instanceof BadRequest) return res.status(400).json({ ok: false, description: error.message });
        return next(error);
      });
  };
}

const userRoutes = {
  // A message from a user to the bot: text, command, sticker, photo, location... as the fields
  // of a Telegram Message (without message_id, which the emulator assigns).
  '/user/send': async ({ message }, state, token, res) => {
    if (!message || !message.from || !message.chat || message.chat.id === undefined) {
      throw new BadRequest('message.from and message.chat are required');
    }
    state.chats.set(Number(message.chat.id), message.chat);
    const ids = { update_id: server.updateId, message_id: server.messageId };
    await server.addUserMessage({ date: nowSeconds(), ...message, botToken: token });
    res.json(ok(ids));
  },

  // Pressing an inline button of a bot message: the callback query carries the message as it
  // is now (after edits), as on Telegram.
  '/user/press': async ({ from, chat_id: chatId, message_id: messageId, data }, state, token, res) => {
    const entry = findBotMessage(token, chatId, messageId);
    if (!entry) throw new BadRequest(`no bot message ${messageId} in chat ${chatId}`);
    const markup = inlineMarkup(entry.message.reply_markup);
    const buttons = markup ? markup.inline_keyboard.flat() : [];
    if (!buttons.some((button) => button.callback_data === data)) {
      throw new BadRequest(`message ${messageId} has no inline button with callback_data ${JSON.stringify(data)}`);
    }
    const ids = { update_id: server.updateId, callback_query_id: String(server.callbackId) };
    state.callbacks.set(ids.callback_query_id, { answered: false });
    await server.addUserCallback({ botToken: token, from, message: renderBotMessage(entry), data });
    res.json(ok(ids));
  },

  '/user/messages': ({ chat_id: chatId }, _state, token, res) => {
    const messages = server.storage.botMessages
      .filter((entry) => entry.botToken === token && String(entry.message.chat_id) === String(chatId))
      .sort((a, b) => a.messageId - b.messageId)
      .map((entry) => ({ message: renderBotMessage(entry), versions: entry.versions || [] }));
    res.json(ok(messages));
  },

  '/control/calls': ({ method }, state, _token, res) => {
    const wanted = method ? String(method).toLowerCase() : null;
    res.json(ok(state.calls.filter((call) => !wanted || call.method.toLowerCase() === wanted)));
  },

  '/control/fail': (rule, state, _token, res) => {
    if (!FAILURE_KINDS.has(rule.kind)) throw new BadRequest(`kind must be one of ${[...FAILURE_KINDS]}`);
    const times = rule.times === undefined ? 1 : rule.times;
    if (times !== null && !(Number.isInteger(times) && times > 0)) throw new BadRequest('times must be a positive integer or null');
    state.failures.push({
      kind: rule.kind,
      method: String(rule.method || 'sendMessage'),
      chat_id: rule.chat_id === undefined ? null : rule.chat_id,
      remaining: times,
      retry_after: intParam(rule.retry_after, 1),
    });
    res.json(ok(true));
  },

  // Telegram's flood limit for this bot: above `per_second` calls to chats (bursts of `burst`),
  // 429 with `retry_after`. `per_second: null` turns it off. Answers how many calls it refused.
  '/control/limit': (body, state, _token, res) => {
    if (body.per_second === null) {
      state.flood = null;
    } else if (body.per_second !== undefined) {
      const perSecond = Number(body.per_second);
      if (!(perSecond > 0)) throw new BadRequest('per_second must be a positive number or null');
      const burst = body.burst === undefined ? perSecond : Number(body.burst);
      if (!(burst >= 1)) throw new BadRequest('burst must be at least 1');
      state.flood = {
        per_second: perSecond,
        burst,
        retry_after: intParam(body.retry_after, FLOOD_RETRY_AFTER_S),
        tokens: burst,
        at: Date.now() / 1000,
      };
    }
    res.json(ok({ refused: state.floodRefused }));
  },

  '/control/clearFailures': (_body, state, _token, res) => {
    state.failures = [];
    res.json(ok(true));
  },
};

// ---------------------------------------------------------------------------------------------
// Wiring: the outer app handles the Bot API and test endpoints, then falls through to the
// emulator's own app, which stays mounted for the routes that are wrapped (delegate).

const app = express();
app.use(express.json());
app.use(express.urlencoded({ extended: true }));
// Uploads (sendPhoto) come as multipart/form-data: parsed with Node's own fetch implementation;
// files become {name, size}.
app.use((req, res, next) => {
  if (!String(req.headers['content-type'] || '').startsWith('multipart/form-data')) return next();
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('error', next);
  req.on('end', () => {
    new Response(Buffer.concat(chunks), { headers: { 'content-type': req.headers['content-type'] } })
      .formData()
      .then((form) => {
        req.body = {};
        for (const [name, value] of form.entries()) {
          req.body[name] = typeof value === 'string' ? value : { name: value.name, size: value.size };
        }
        next();
      })
      .catch(next);
  });
  return undefined;
});
for (const [route, handler] of Object.entries(userRoutes)) app.post(route, userApi(handler));
app.all('/bot:token/:method', botApi);
app.use(emulatorApp);
app.use((error, req, res, _next) => {
  // body-parser marks malformed bodies with a 4xx status.
  if (error.status >= 400 && error.status < 500) {
    return fail(res, 400, `Bad Request: ${error.message}`);
  }
  log(`error on ${req.method} ${req.path}: ${error.stack || error}`);
  return fail(res, 500, `Internal Server Error: ${error.message}`);
});
server.webServer = app;

// A rejected promise must not end the emulator mid-session (Node's default since v15).
process.on('unhandledRejection', (error) => log(`unhandled rejection: ${error && error.stack}`));

async function stop() {
  if (stopping) return;
  stopping = true;
  for (const state of bots.values()) if (state.poller) state.poller.wake();
  setTimeout(() => process.exit(0), 2000).unref();
  await server.stop();
  process.exit(0);
}

async function main() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      'exit-with-stdin': { type: 'boolean', default: false },
    },
  });
  // normalizeConfig turns port 0 into 9000; 0 lets the system pick a free port without a race.
  server.config.port = Number(values.port);
  await server.start();
  const { port } = server.server.address();
  server.config.apiURL = `http://${HOST}:${port}`;
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (values['exit-with-stdin']) {
    // The test process holds our stdin: when it dies, even by SIGKILL, the emulator goes too.
    process.stdin.on('end', stop);
    process.stdin.on('error', stop);
    process.stdin.resume();
  }
  process.stdout.write(`${JSON.stringify({ url: server.config.apiURL })}\n`);
  log(`telegram emulator listening on ${server.config.apiURL}`);
}

main().catch((error) => {
  log(`emulator failed to start: ${error.stack || error}`);
  process.exit(1);
});
