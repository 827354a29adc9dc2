// A loopback SMTP server for the local platform: prints every message it receives and appends
// it to a file, so the idle guard's mails can be read without a real mail system.
//   node dev/idle/mailbox.mjs --port 26025 [--file .state/idle/mail.txt]
import { appendFileSync } from 'node:fs';
import { SMTPServer } from 'smtp-server';

const arg = name => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const port = Number(arg('port') ?? 2525);
const file = arg('file');
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onData(stream, session, done) {
    let raw = '';
    stream.on('data', d => (raw += d.toString()));
    stream.on('end', () => {
      const text = `---- to ${session.envelope.rcptTo.map(r => r.address).join(', ')}\n${raw}\n`;
      process.stdout.write(text);
      if (file) appendFileSync(file, text);
      done();
    });
  }
});
server.listen(port, '127.0.0.1', () => console.log(`mailbox: smtp://127.0.0.1:${port}`));
