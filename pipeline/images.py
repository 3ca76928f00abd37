"""Makes a small build image from the host's static busybox, for machines with no registry."""
import io
import shutil
import subprocess
import tarfile

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")


def find_busybox():
    """Return the path of a statically linked busybox on this host, or raise FileNotFoundError."""
    for path in BUSYBOX_CANDIDATES:
        if shutil.which(path):
            ldd = subprocess.run(["ldd", path], capture_output=True, text=True)
            if "not a dynamic executable" in ldd.stdout + ldd.stderr:
                return path
    raise FileNotFoundError(
        "no static busybox on this machine; install it with 'apt-get install busybox-static'"
    )


def busybox_rootfs(busybox):
    """Return a tar (bytes) of a root filesystem: busybox, a link per applet, /tmp and /workspace."""
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for folder, mode in (("bin", 0o755), ("tmp", 0o1777), ("workspace", 0o755), ("etc", 0o755)):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        tar.add(busybox, arcname="bin/busybox")
        for applet in applets.stdout.split():
            if applet != "busybox":
                info = tarfile.TarInfo(f"bin/{applet}")
                info.type, info.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(info)
        passwd = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(passwd)
        tar.addfile(info, io.BytesIO(passwd))
    return buf.getvalue()


def make_busybox_image(client, name):
    """Import a busybox image as `name` (repository:tag) into the engine behind `client`."""
    repository, _, tag = name.partition(":")
    client.api.import_image_from_data(
        busybox_rootfs(find_busybox()), repository=repository, tag=tag or "latest"
    )
    return client.images.get(name)
