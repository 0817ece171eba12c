/*
 * Optional accelerator for the DNS engine (sovmap.collect.engine).
 *
 * send_batch / recv_batch move many datagrams per system call (sendmmsg / recvmmsg);
 * parse decodes a response exactly as sovmap.collect.wire.parse_response does, for the
 * common record types, and returns None for anything it leaves to the Python parser
 * (unusual record types, non-ASCII names, IPv4-embedded IPv6 text forms). The tests check
 * both parsers give the same result or the same error code for arbitrary byte strings.
 *
 * The module is optional: when it cannot be built or imported, the engine runs the same
 * logic in Python.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>
#include <structmember.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_POINTERS 32
#define MAX_NAME 255
#define MAX_RECORDS 1024
#define BATCH 64
#define RECV_SIZE 65536

static PyObject *wire_error = NULL; /* sovmap.collect.wire.WireError */
static PyTypeObject *rr_type = NULL; /* sovmap.model.RR (slots dataclass) */
static Py_ssize_t off_name, off_rtype, off_ttl, off_data;
static PyObject *type_names[64]; /* interned names of the types parsed here */
static char *recv_area = NULL;

/* A sentinel result of the name reader: leave the message to the Python parser. */
#define FALLBACK 2

static int
raise_wire(const char *code, const char *detail)
{
    PyObject *exc = PyObject_CallFunction(wire_error, "ss", code, detail);
    if (exc != NULL) {
        PyErr_SetObject(wire_error, exc);
        Py_DECREF(exc);
    }
    return -1;
}

/* Read a possibly compressed name at *pos into out (lower-case, dots, no trailing dot).
 * Returns 0 and sets *next, -1 with WireError set, or FALLBACK for non-ASCII labels.
 * With out == NULL the name is only checked and its end found. */
static int
read_name(const unsigned char *msg, Py_ssize_t limit, Py_ssize_t offset, char *out,
          Py_ssize_t *outlen, Py_ssize_t *next)
{
    Py_ssize_t pos = offset, end = -1, lowest = offset, length = 0, o = 0;
    int jumps = 0;
    for (;;) {
        if (pos >= limit)
            return raise_wire("short", "name runs past the end");
        unsigned n = msg[pos];
        if (n == 0) {
            pos += 1;
            break;
        }
        unsigned kind = n & 0xC0;
        if (kind == 0xC0) {
            if (pos + 1 >= limit)
                return raise_wire("short", "pointer runs past the end");
            Py_ssize_t target = ((Py_ssize_t)(n & 0x3F) << 8) | msg[pos + 1];
            if (target >= lowest)
                return raise_wire("bad-pointer", "pointer does not point backwards");
            jumps += 1;
            if (jumps > MAX_POINTERS)
                return raise_wire("bad-pointer", "too many compression pointers");
            if (end < 0)
                end = pos + 2;
            lowest = target;
            pos = target;
            continue;
        }
        if (kind != 0)
            return raise_wire("label-type", "unsupported label type");
        pos += 1;
        if (pos + (Py_ssize_t)n > limit)
            return raise_wire("short", "label runs past the end");
        length += n + 1;
        if (length + 1 > MAX_NAME)
            return raise_wire("name-too-long", "name longer than 255 octets");
        if (out == NULL) {
            pos += n;
            continue;
        }
        if (o > 0)
            out[o++] = '.';
        for (unsigned i = 0; i < n; i++) {
            unsigned char c = msg[pos + i];
            if (c >= 0x80)
                return FALLBACK;
            out[o++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : (char)c;
        }
        pos += n;
    }
    if (outlen != NULL)
        *outlen = o;
    *next = end >= 0 ? end : pos;
    return 0;
}

static PyObject *
make_rr(PyObject *name, PyObject *rtype, unsigned long ttl, PyObject *data)
{
    PyObject *rr = rr_type->tp_alloc(rr_type, 0);
    if (rr == NULL)
        return NULL;
    PyObject *pttl = PyLong_FromUnsignedLong(ttl > 0x7FFFFFFFUL ? 0x7FFFFFFFUL : ttl);
    if (pttl == NULL) {
        Py_DECREF(rr);
        return NULL;
    }
    Py_INCREF(name);
    Py_INCREF(rtype);
    Py_INCREF(data);
    *(PyObject **)((char *)rr + off_name) = name;
    *(PyObject **)((char *)rr + off_rtype) = rtype;
    *(PyObject **)((char *)rr + off_ttl) = pttl;
    *(PyObject **)((char *)rr + off_data) = data;
    return rr;
}

static PyObject *
name_object(const unsigned char *msg, Py_ssize_t limit, Py_ssize_t pos, Py_ssize_t *next,
            int *fallback)
{
    char buf[MAX_NAME + 2];
    Py_ssize_t len;
    int r = read_name(msg, limit, pos, buf, &len, next);
    if (r < 0)
        return NULL;
    if (r == FALLBACK) {
        *fallback = 1;
        return NULL;
    }
    return PyUnicode_FromStringAndSize(buf, len);
}

/* rdata as text; NULL with *fallback set when the Python parser must decide. */
static PyObject *
rdata(const unsigned char *msg, Py_ssize_t limit, unsigned rtype, Py_ssize_t pos,
      Py_ssize_t rdlen, int *fallback)
{
    Py_ssize_t end = pos + rdlen, next;
    char buf[MAX_NAME + 64];
    Py_ssize_t len;
    int r;
    switch (rtype) {
    case 1:
        if (rdlen != 4) {
            raise_wire("bad-rdata", "A record is not 4 octets");
            return NULL;
        }
        return PyUnicode_FromFormat("%u.%u.%u.%u", msg[pos], msg[pos + 1], msg[pos + 2],
                                    msg[pos + 3]);
    case 2:
    case 5:
    case 12:
    case 39: {
        PyObject *name = name_object(msg, limit, pos, &next, fallback);
        if (name == NULL)
            return NULL;
        if (next != end) {
            Py_DECREF(name);
            raise_wire("bad-rdata", "name does not fill its record");
            return NULL;
        }
        return name;
    }
    case 15: {
        if (rdlen < 3) {
            raise_wire("bad-rdata", "MX record too short");
            return NULL;
        }
        unsigned pref = ((unsigned)msg[pos] << 8) | msg[pos + 1];
        int n = snprintf(buf, sizeof buf, "%u ", pref);
        r = read_name(msg, limit, pos + 2, buf + n, &len, &next);
        if (r < 0)
            return NULL;
        if (r == FALLBACK) {
            *fallback = 1;
            return NULL;
        }
        if (next != end) {
            raise_wire("bad-rdata", "MX name does not fill its record");
            return NULL;
        }
        return PyUnicode_FromStringAndSize(buf, n + len);
    }
    case 16: {
        if (rdlen == 0) {
            raise_wire("bad-rdata", "empty TXT record");
            return NULL;
        }
        /* validate first, and see whether every octet is ASCII */
        int ascii = 1;
        Py_ssize_t p = pos, total = 0;
        while (p < end) {
            unsigned n = msg[p];
            p += 1;
            if (p + (Py_ssize_t)n > end) {
                raise_wire("rdata-overrun", "TXT string runs past its record");
                return NULL;
            }
            for (unsigned i = 0; i < n && ascii; i++)
                if (msg[p + i] >= 0x80)
                    ascii = 0;
            total += n;
            p += n;
        }
        if (ascii) {
            PyObject *s = PyUnicode_New(total, 127);
            if (s == NULL)
                return NULL;
            char *dst = (char *)PyUnicode_DATA(s);
            p = pos;
            while (p < end) {
                unsigned n = msg[p];
                memcpy(dst, msg + p + 1, n);
                dst += n;
                p += 1 + n;
            }
            return s;
        }
        /* each character-string decoded on its own, as the Python parser does */
        PyObject *parts = PyList_New(0);
        if (parts == NULL)
            return NULL;
        p = pos;
        while (p < end) {
            unsigned n = msg[p];
            PyObject *part = PyUnicode_DecodeUTF8((const char *)msg + p + 1, n,
                                                  "backslashreplace");
            if (part == NULL || PyList_Append(parts, part) < 0) {
                Py_XDECREF(part);
                Py_DECREF(parts);
                return NULL;
            }
            Py_DECREF(part);
            p += 1 + n;
        }
        PyObject *empty = PyUnicode_FromStringAndSize("", 0);
        PyObject *joined = empty ? PyUnicode_Join(empty, parts) : NULL;
        Py_XDECREF(empty);
        Py_DECREF(parts);
        return joined;
    }
    case 28: {
        if (rdlen != 16) {
            raise_wire("bad-rdata", "AAAA record is not 16 octets");
            return NULL;
        }
        if (inet_ntop(AF_INET6, msg + pos, buf, sizeof buf) == NULL || strchr(buf, '.')) {
            *fallback = 1; /* IPv4-embedded forms print differently in Python */
            return NULL;
        }
        return PyUnicode_FromString(buf);
    }
    case 33: {
        if (rdlen < 7) {
            raise_wire("bad-rdata", "SRV record too short");
            return NULL;
        }
        unsigned prio = ((unsigned)msg[pos] << 8) | msg[pos + 1];
        unsigned weight = ((unsigned)msg[pos + 2] << 8) | msg[pos + 3];
        unsigned port = ((unsigned)msg[pos + 4] << 8) | msg[pos + 5];
        int n = snprintf(buf, sizeof buf, "%u %u %u ", prio, weight, port);
        r = read_name(msg, limit, pos + 6, buf + n, &len, &next);
        if (r < 0)
            return NULL;
        if (r == FALLBACK) {
            *fallback = 1;
            return NULL;
        }
        if (next != end) {
            raise_wire("bad-rdata", "SRV name does not fill its record");
            return NULL;
        }
        return PyUnicode_FromStringAndSize(buf, n + len);
    }
    default:
        *fallback = 1; /* SOA and rarer types: the Python parser */
        return NULL;
    }
}

static PyObject *
fast_parse(PyObject *self, PyObject *arg)
{
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "parse() takes bytes");
        return NULL;
    }
    const unsigned char *msg = (const unsigned char *)PyBytes_AS_STRING(arg);
    Py_ssize_t limit = PyBytes_GET_SIZE(arg);
    if (limit < 12) {
        raise_wire("short", "message shorter than its header");
        return NULL;
    }
    unsigned qid = ((unsigned)msg[0] << 8) | msg[1];
    unsigned flags = ((unsigned)msg[2] << 8) | msg[3];
    unsigned qd = ((unsigned)msg[4] << 8) | msg[5];
    unsigned an = ((unsigned)msg[6] << 8) | msg[7];
    unsigned ns = ((unsigned)msg[8] << 8) | msg[9];
    unsigned ar = ((unsigned)msg[10] << 8) | msg[11];
    if (!(flags & 0x8000)) {
        raise_wire("not-response", "QR bit not set");
        return NULL;
    }
    if (qd != 1) {
        raise_wire("bad-question", "not one question");
        return NULL;
    }
    if (an + ns + ar > MAX_RECORDS) {
        raise_wire("too-many-records", "too many records");
        return NULL;
    }
    /* question name: uncompressed in every query we send */
    Py_ssize_t pos = 12;
    for (;;) {
        if (pos >= limit) {
            raise_wire("short", "name runs past the end");
            return NULL;
        }
        unsigned n = msg[pos];
        if (n == 0) {
            if (pos - 12 + 1 > MAX_NAME) {
                raise_wire("name-too-long", "name longer than 255 octets");
                return NULL;
            }
            pos += 1;
            break;
        }
        if (n & 0xC0) {
            if (read_name(msg, limit, 12, NULL, NULL, &pos) < 0)
                return NULL;
            break;
        }
        pos += n + 1;
    }
    if (pos + 4 > limit) {
        raise_wire("short", "question runs past the end");
        return NULL;
    }
    unsigned qtype = ((unsigned)msg[pos] << 8) | msg[pos + 1];
    PyObject *question = PyBytes_FromStringAndSize((const char *)msg + 12, pos + 4 - 12);
    if (question == NULL)
        return NULL;
    {
        char *q = PyBytes_AS_STRING(question);
        for (Py_ssize_t i = 0; i < pos + 4 - 12; i++)
            if (q[i] >= 'A' && q[i] <= 'Z')
                q[i] = (char)(q[i] + 32);
    }
    pos += 4;
    PyObject *answers = PyTuple_New(an);
    if (answers == NULL) {
        Py_DECREF(question);
        return NULL;
    }
    Py_ssize_t kept = 0;
    PyObject *last_name = NULL;
    Py_ssize_t last_target = -1;
    int fallback = 0;
    for (unsigned i = 0; i < an; i++) {
        PyObject *name;
        Py_ssize_t target = -1;
        if (pos + 1 < limit && msg[pos] >= 0xC0)
            target = ((Py_ssize_t)(msg[pos] & 0x3F) << 8) | msg[pos + 1];
        if (target >= 0 && target == last_target && target < pos && last_name != NULL) {
            name = last_name;
            Py_INCREF(name);
            pos += 2;
        }
        else {
            Py_ssize_t next;
            name = name_object(msg, limit, pos, &next, &fallback);
            if (name == NULL)
                goto fail;
            pos = next;
            if (target >= 0) {
                Py_XDECREF(last_name);
                last_name = name;
                Py_INCREF(last_name);
                last_target = target;
            }
        }
        if (pos + 10 > limit) {
            Py_DECREF(name);
            raise_wire("short", "record header runs past the end");
            goto fail;
        }
        unsigned rtype = ((unsigned)msg[pos] << 8) | msg[pos + 1];
        unsigned rclass = ((unsigned)msg[pos + 2] << 8) | msg[pos + 3];
        unsigned long ttl = ((unsigned long)msg[pos + 4] << 24) |
                            ((unsigned long)msg[pos + 5] << 16) |
                            ((unsigned long)msg[pos + 6] << 8) | msg[pos + 7];
        Py_ssize_t rdlen = ((Py_ssize_t)msg[pos + 8] << 8) | msg[pos + 9];
        pos += 10;
        if (pos + rdlen > limit) {
            Py_DECREF(name);
            raise_wire("rdata-overrun", "record data runs past the end");
            goto fail;
        }
        if (rtype == 41) {
            Py_DECREF(name);
            raise_wire("bad-rdata", "OPT record in the answer section");
            goto fail;
        }
        if (rclass != 1) {
            Py_DECREF(name);
            pos += rdlen;
            continue;
        }
        PyObject *tname = rtype < 64 ? type_names[rtype] : NULL;
        if (tname == NULL) {
            Py_DECREF(name);
            fallback = 1;
            goto fail;
        }
        PyObject *data = rdata(msg, limit, rtype, pos, rdlen, &fallback);
        if (data == NULL) {
            Py_DECREF(name);
            goto fail;
        }
        pos += rdlen;
        PyObject *rr = make_rr(name, tname, ttl, data);
        Py_DECREF(name);
        Py_DECREF(data);
        if (rr == NULL)
            goto fail;
        PyTuple_SET_ITEM(answers, kept, rr);
        kept++;
    }
    Py_XDECREF(last_name);
    if (kept < (Py_ssize_t)an && _PyTuple_Resize(&answers, kept) < 0) {
        Py_DECREF(question);
        return NULL;
    }
    return Py_BuildValue("(IININ)", qid, flags, question, qtype, answers);
fail:
    Py_XDECREF(last_name);
    Py_DECREF(question);
    Py_DECREF(answers);
    if (fallback) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return NULL;
}

static PyObject *
fast_recv_batch(PyObject *self, PyObject *args)
{
    int fd, max = BATCH;
    if (!PyArg_ParseTuple(args, "i|i", &fd, &max))
        return NULL;
    if (max < 1 || max > BATCH)
        max = BATCH;
    if (recv_area == NULL) {
        recv_area = PyMem_RawMalloc((size_t)BATCH * RECV_SIZE);
        if (recv_area == NULL)
            return PyErr_NoMemory();
    }
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)max);
    for (int i = 0; i < max; i++) {
        iov[i].iov_base = recv_area + (size_t)i * RECV_SIZE;
        iov[i].iov_len = RECV_SIZE;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int got;
    for (;;) {
        /* non-blocking, and the receive area is shared: the GIL stays held */
        got = recvmmsg(fd, msgs, (unsigned)max, MSG_DONTWAIT, NULL);
        if (got >= 0)
            break;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return PyList_New(0);
        if (errno == ECONNREFUSED || errno == EINTR)
            continue; /* an ICMP error for one of our datagrams: the timeout handles it */
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyObject *out = PyList_New(got);
    if (out == NULL)
        return NULL;
    for (int i = 0; i < got; i++) {
        PyObject *b = PyBytes_FromStringAndSize(recv_area + (size_t)i * RECV_SIZE,
                                                (Py_ssize_t)msgs[i].msg_len);
        if (b == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, b);
    }
    return out;
}

static PyObject *
fast_send_batch(PyObject *self, PyObject *args)
{
    int fd;
    PyObject *seq;
    if (!PyArg_ParseTuple(args, "iO!", &fd, &PyList_Type, &seq))
        return NULL;
    Py_ssize_t total = PyList_GET_SIZE(seq), done = 0;
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    while (done < total) {
        int n = (int)((total - done) < BATCH ? (total - done) : BATCH);
        memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)n);
        for (int i = 0; i < n; i++) {
            PyObject *b = PyList_GET_ITEM(seq, done + i);
            if (!PyBytes_Check(b)) {
                PyErr_SetString(PyExc_TypeError, "send_batch() takes a list of bytes");
                return NULL;
            }
            iov[i].iov_base = PyBytes_AS_STRING(b);
            iov[i].iov_len = (size_t)PyBytes_GET_SIZE(b);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int sent = sendmmsg(fd, msgs, (unsigned)n, MSG_DONTWAIT);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            if (done > 0)
                break;
            return PyErr_SetFromErrno(PyExc_OSError);
        }
        done += sent;
        if (sent < n)
            break;
    }
    return PyLong_FromSsize_t(done);
}

static Py_ssize_t
member_offset(PyObject *cls, const char *field)
{
    PyObject *d = PyObject_GetAttrString(cls, field);
    if (d == NULL)
        return -1;
    if (!PyObject_TypeCheck(d, &PyMemberDescr_Type)) {
        Py_DECREF(d);
        PyErr_Format(PyExc_TypeError, "%s is not a slot", field);
        return -1;
    }
    PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
    Py_ssize_t off = m->type == T_OBJECT_EX ? m->offset : -1;
    Py_DECREF(d);
    if (off < 0)
        PyErr_Format(PyExc_TypeError, "%s is not an object slot", field);
    return off;
}

static PyObject *
fast_init(PyObject *self, PyObject *args)
{
    PyObject *err, *rr, *names;
    if (!PyArg_ParseTuple(args, "OO!O!", &err, &PyType_Type, &rr, &PyDict_Type, &names))
        return NULL;
    off_name = member_offset(rr, "name");
    off_rtype = off_name < 0 ? -1 : member_offset(rr, "rtype");
    off_ttl = off_rtype < 0 ? -1 : member_offset(rr, "ttl");
    off_data = off_ttl < 0 ? -1 : member_offset(rr, "data");
    if (off_data < 0)
        return NULL;
    Py_XSETREF(wire_error, Py_NewRef(err));
    Py_XSETREF(rr_type, (PyTypeObject *)Py_NewRef(rr));
    static const unsigned handled[] = {1, 2, 5, 12, 15, 16, 28, 33, 39};
    for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++) {
        PyObject *key = PyLong_FromUnsignedLong(handled[i]);
        PyObject *v = key ? PyDict_GetItemWithError(names, key) : NULL;
        Py_XDECREF(key);
        if (v == NULL) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_KeyError, "no name for type %u", handled[i]);
            return NULL;
        }
        Py_INCREF(v);
        PyUnicode_InternInPlace(&v);
        Py_XSETREF(type_names[handled[i]], v);
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"init", fast_init, METH_VARARGS, "init(WireError, RR, type_names): bind the Python types."},
    {"parse", fast_parse, METH_O,
     "parse(msg) -> (qid, flags, question, qtype, answers) or None (use Python)."},
    {"recv_batch", fast_recv_batch, METH_VARARGS,
     "recv_batch(fd, max=64) -> list of datagrams waiting on a non-blocking socket."},
    {"send_batch", fast_send_batch, METH_VARARGS,
     "send_batch(fd, datagrams) -> how many were sent (sendmmsg)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastdns", "sendmmsg/recvmmsg and a response parser in C.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__fastdns(void)
{
    return PyModule_Create(&module);
}
