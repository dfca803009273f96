"""A stand-in for the XDG desktop portal's Screenshot interface on a private session bus (jeepney, in a child
process): `python fake_portal.py ADDRESS MODE FILE`. It owns org.freedesktop.portal.Desktop, answers Screenshot
with its Request path, prints each call's options as a JSON line, and then, by MODE: `answer` (Response 0 with
FILE's URI), `cancel` (Response 1), `silent` (never a Response)."""

import json
import sys
from pathlib import Path

from jeepney import DBusAddress, HeaderFields, MessageType, new_error, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

address, mode, image = sys.argv[1], sys.argv[2], sys.argv[3]
conn = open_dbus_connection(bus=address)
conn.send_and_get_reply(message_bus.RequestName("org.freedesktop.portal.Desktop"))
print("ready", flush=True)
while True:
    msg = conn.receive()
    fields = msg.header.fields
    if msg.header.message_type != MessageType.method_call:
        continue
    if fields.get(HeaderFields.member) != "Screenshot":
        conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod"))
        continue
    _parent, options = msg.body
    token = options["handle_token"][1]
    handle = f"/org/freedesktop/portal/desktop/request/{fields[HeaderFields.sender][1:].replace('.', '_')}/{token}"
    conn.send(new_method_return(msg, "o", (handle,)))
    print(json.dumps({k: v[1] for k, v in options.items()}), flush=True)
    request = DBusAddress(handle, interface="org.freedesktop.portal.Request")
    if mode == "answer":
        conn.send(new_signal(request, "Response", "ua{sv}", (0, {"uri": ("s", Path(image).as_uri())})))
    elif mode == "cancel":
        conn.send(new_signal(request, "Response", "ua{sv}", (1, {})))
