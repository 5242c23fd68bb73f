/* The floor: the least a networkd dispatcher can do, to measure the others against.
 * Subscribes to systemd-networkd's PropertiesChanged on the link objects and posix_spawns every file
 * of DIR/<OperationalState>.d with STATE= and IFINDEX= in the environment. Nothing else: no ordering between runs,
 * no checks on the files, no JSON, no sender check, no reading of files.
 *   floor DIR        (the system bus; DBUS_SYSTEM_BUS_ADDRESS is honoured; sd_notify READY=1)
 */
#include <dirent.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

extern char **environ;
static const char *root;

static int filter(const struct dirent *entry) { return entry->d_name[0] != '.'; }

static void run(const char *state, const char *ifindex) {
    char directory[4096], path[8192], variable[256], index[64];
    struct dirent **entries;
    snprintf(directory, sizeof directory, "%s/%s.d", root, state);
    int n = scandir(directory, &entries, filter, alphasort);
    if (n < 0)
        return;
    snprintf(variable, sizeof variable, "STATE=%s", state);
    snprintf(index, sizeof index, "IFINDEX=%s", ifindex);
    char *envp[] = {variable, index, NULL};
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", directory, entries[i]->d_name);
        char *argv[] = {path, NULL};
        pid_t pid;
        posix_spawn(&pid, path, NULL, NULL, argv, envp);
        free(entries[i]);
    }
    free(entries);
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
    (void)userdata, (void)error;
    const char *interface, *name, *value;
    char *ifindex = NULL;
    if (sd_bus_path_decode(sd_bus_message_get_path(m), "/org/freedesktop/network1/link", &ifindex) <= 0)
        return 0;
    if (sd_bus_message_read(m, "s", &interface) < 0 || sd_bus_message_enter_container(m, 'a', "{sv}") < 0) {
        free(ifindex);
        return 0;
    }
    while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
        if (sd_bus_message_read(m, "s", &name) < 0)
            break;
        if (strcmp(name, "OperationalState") == 0 && sd_bus_message_read(m, "v", "s", &value) >= 0)
            run(value, ifindex);
        else if (sd_bus_message_skip(m, "v") < 0)
            break;
        if (sd_bus_message_exit_container(m) < 0)
            break;
    }
    free(ifindex);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    root = argv[1];
    signal(SIGCHLD, SIG_IGN); /* the kernel reaps the scripts */
    sd_bus *bus = NULL;
    int r = sd_bus_open_system(&bus);
    if (r >= 0)
        r = sd_bus_add_match(bus, NULL,
                             "type='signal',sender='org.freedesktop.network1',interface='org.freedesktop.DBus.Properties',"
                             "member='PropertiesChanged',path_namespace='/org/freedesktop/network1/link'",
                             on_properties_changed, NULL);
    if (r < 0) {
        fprintf(stderr, "floor: %s\n", strerror(-r));
        return 1;
    }
    sd_notify(0, "READY=1");
    for (;;) {
        r = sd_bus_process(bus, NULL);
        if (r < 0)
            return 1;
        if (r == 0 && sd_bus_wait(bus, UINT64_MAX) < 0)
            return 1;
    }
}
