# Core CRM module: classes are registered from tryton.cfg ([register]).
