/**
 * Mail to users over SMTP (nodemailer), from the `mail` section of the configuration. Features
 * call `app.mail.send(...)`; `app.mail` is null when mail.smtp.host is not set, so a platform
 * without mail still runs and says so. Addresses come from the hub's auth state (an OAuth
 * authenticator's `email`) or from mail.addresses, which wins.
 */
import fp from 'fastify-plugin';
import nodemailer from 'nodemailer';

export interface IMailConfig {
  smtp: {
    host?: string;
    port: number;
    /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. */
    secure: boolean;
    user?: string;
    password?: string;
    timeoutSeconds: number;
  };
  from: string;
  /** user name -> address; wins over what the hub knows. */
  addresses: Record<string, string>;
}

const email = { type: 'string', pattern: '^[^@\\s]+@[^@\\s]+$' };

export const mailConfigSchema = {
  type: 'object',
  default: {},
  additionalProperties: false,
  properties: {
    smtp: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        host: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 1, maximum: 65535, default: 25 },
        secure: { type: 'boolean', default: false },
        user: { type: 'string', minLength: 1 },
        password: { type: 'string', minLength: 1 },
        timeoutSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 60, default: 10 }
      }
    },
    from: { type: 'string', minLength: 3, default: 'Hotstepper <hotstepper@localhost>' },
    addresses: { type: 'object', additionalProperties: email, default: {} }
  }
};

export const mailEnvKeys: Record<string, [path: string, kind: 'string' | 'integer']> = {
  HOTSTEPPER_SMTP_HOST: ['mail.smtp.host', 'string'],
  HOTSTEPPER_SMTP_PORT: ['mail.smtp.port', 'integer'],
  HOTSTEPPER_SMTP_USER: ['mail.smtp.user', 'string'],
  HOTSTEPPER_SMTP_PASSWORD: ['mail.smtp.password', 'string'],
  HOTSTEPPER_MAIL_FROM: ['mail.from', 'string']
};

export interface IMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
}

export interface IMailer {
  send(message: IMessage): Promise<void>;
  close(): void;
}

/** A failed send; the message says what, without the SMTP password. */
export class MailError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MailError';
  }
}

export function createMailer(config: IMailConfig): IMailer | null {
  const { smtp } = config;
  if (!smtp.host) return null;
  const ms = smtp.timeoutSeconds * 1000;
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    auth: smtp.user ? { user: smtp.user, pass: smtp.password ?? '' } : undefined,
    connectionTimeout: ms,
    greetingTimeout: ms,
    socketTimeout: ms
  });
  return {
    async send(message) {
      try {
        await transport.sendMail({ from: config.from, ...message });
      } catch (err) {
        const why = (err as Error).message;
        throw new MailError(`mail to ${message.to} via ${smtp.host}:${smtp.port} failed: ${why}`);
      }
    },
    close: () => transport.close()
  };
}

declare module 'fastify' {
  // eslint-disable-next-line @typescript-eslint/naming-convention -- fastify's own interface
  interface FastifyInstance {
    mail: IMailer | null;
  }
}

/** `app.mail`: the SMTP sender, or null when mail.smtp.host is not set. */
export const mailPlugin = fp(
  async app => {
    const mailer = createMailer(app.config.mail);
    app.decorate('mail', mailer);
    app.addHook('onClose', async () => mailer?.close());
  },
  { name: 'mail', dependencies: ['config'] }
);
