"""The live side: Socket.IO connections and the events they hear (realtime.py), and wake-ups that
reach idle workers in this and other processes (wakeups.py). Imports the records only."""
