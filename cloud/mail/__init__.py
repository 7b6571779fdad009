"""Alert e-mails to residents who opted in: settings, opt-in and sent-mail tables, the message,
the mailer job step and the unsubscribe endpoint."""
